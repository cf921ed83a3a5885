// CPU loops for FPS and KNN: the functors of points.h on the scalar path; on the SIMD paths the same
// distance formula on four points at a time (default target and an AVX2 clone), with the same
// selection rules (first maximum; ascending (distance, index)).
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/cpu_exec.h"
#include "common/cpu_features.h"
#include "common/simd.h"
#include "points/points.h"

namespace vr {
namespace {

#ifdef VR_HAVE_D4
VR_LANE_INLINE void knn_lanes(const Knn& f, int64_t k) {
  const int64_t P = f.P, K = f.K;
  const int64_t b = k / f.G;
  const double* x = f.xyz + b * 3 * P;
  const double* y = x + P;
  const double* z = y + P;
  const int64_t c = f.centres[k];
  const double cx = x[c], cy = y[c], cz = z[c];
  const d4 cx4 = splat<d4>(cx), cy4 = splat<d4>(cy), cz4 = splat<d4>(cz);
  double* d = f.dist + k * K;
  int64_t* o = f.idx + k * K;
  int64_t count = 0, p = 0;
  constexpr int kBlock = 4 * kLanes;  // points per test against the current K-th distance
  const int64_t body = P / kBlock * kBlock;
  for (; p < body; p += kBlock) {
    d4 dd[4];
    for (int v = 0; v < 4; ++v)
      dd[v] = sq_dist(load_d4(x + p + v * kLanes), load_d4(y + p + v * kLanes), load_d4(z + p + v * kLanes), cx4, cy4, cz4);
    if (count == K) {  // most points are farther than the current K-th: one test for sixteen
      const d4 worst = splat<d4>(d[K - 1]);
      const m4 closer = (dd[0] < worst) | (dd[1] < worst) | (dd[2] < worst) | (dd[3] < worst);
      if (!(closer[0] | closer[1] | closer[2] | closer[3])) continue;
    }
    for (int v = 0; v < 4; ++v)
      for (int l = 0; l < kLanes; ++l) count = knn_insert(d, o, count, K, dd[v][l], p + v * kLanes + l);
  }
  for (; p < P; ++p) count = knn_insert(d, o, count, K, sq_dist(x[p], y[p], z[p], cx, cy, cz), p);
}

// KNN over a uniform grid (large clouds): the points of each cell are kept in index order, and a
// query visits shells of cells around its own until the K-th distance found is below the distance
// to every unvisited cell. Candidates are ranked by (distance, index) explicitly, so the result is
// the brute force's exactly, whatever order the cells are visited in.
struct CloudGrid {
  double lo[3] = {0, 0, 0}, size = 1.0, inv = 1.0, margin = 0.0;
  int64_t n[3] = {1, 1, 1};
  std::vector<int64_t> start;  // [cells + 1]
  std::vector<int64_t> index;  // point indices in cell order (increasing within a cell)
  std::vector<double> sx, sy, sz;

  int64_t cell_of(double v, int a) const {  // never casts a NaN: !(c > 0) covers it
    const double c = (v - lo[a]) * inv;
    return !(c > 0.0) ? 0 : c >= static_cast<double>(n[a] - 1) ? n[a] - 1 : static_cast<int64_t>(c);
  }
  // False when no grid is well conditioned for this cloud (a bounding box so small or so large
  // that a cell size or its inverse is not a normal double): the caller then uses the brute force.
  bool build(const double* x, const double* y, const double* z, int64_t P, int64_t K) {
    const double* c[3] = {x, y, z};
    double hi[3], scale = 0.0;
    for (int a = 0; a < 3; ++a) {
      lo[a] = hi[a] = c[a][0];
      for (int64_t p = 1; p < P; ++p) lo[a] = vmin(lo[a], c[a][p]), hi[a] = vmax(hi[a], c[a][p]);
      scale = vmax(scale, vmax(std::fabs(lo[a]), std::fabs(hi[a])));
    }
    // cells of about K/2 points for the cloud's bounding box, at most 2P cells in all; the cell
    // size comes from the log of the volume, which neither underflows (1e-110 coordinates) nor
    // overflows (1e200), and the axes of zero extent (flat and collinear clouds) are left out
    double ext[3], log_vol = 0.0;
    int dims = 0;
    for (int a = 0; a < 3; ++a) {
      ext[a] = hi[a] - lo[a];
      if (!std::isfinite(ext[a])) return false;  // the extent itself overflows
      if (ext[a] > 0.0) log_vol += std::log(ext[a]), ++dims;
    }
    const double per_cell = vmax(static_cast<double>(K) / 2.0, 4.0);
    size = dims == 0 ? 1.0 : std::exp((log_vol + std::log(per_cell / static_cast<double>(P))) / dims);
    if (!(std::isnormal(size) && std::isnormal(1.0 / size))) return false;
    int64_t cells = 1;
    for (int a = 0; a < 3; ++a) {
      n[a] = ext[a] > 0.0 ? static_cast<int64_t>(vmin(ext[a] / size, 2.0 * static_cast<double>(P))) + 1 : 1;
      cells *= n[a];
    }
    while (cells > 2 * P + 8) {  // extreme aspect ratios: coarsen
      size *= 2.0;
      if (!std::isnormal(size)) return false;
      cells = 1;
      for (int a = 0; a < 3; ++a) {
        n[a] = ext[a] > 0.0 ? static_cast<int64_t>(vmin(ext[a] / size, 2.0 * static_cast<double>(P))) + 1 : 1;
        cells *= n[a];
      }
    }
    inv = 1.0 / size;
    margin = 1e-9 * (scale + size);  // far above any rounding of cell assignment or distance
    start.assign(static_cast<size_t>(cells + 1), 0);
    std::vector<int64_t> cell(static_cast<size_t>(P));
    for (int64_t p = 0; p < P; ++p) {
      cell[p] = (cell_of(z[p], 2) * n[1] + cell_of(y[p], 1)) * n[0] + cell_of(x[p], 0);
      ++start[cell[p] + 1];
    }
    for (int64_t k = 0; k < cells; ++k) start[k + 1] += start[k];
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    index.resize(static_cast<size_t>(P));
    sx.resize(static_cast<size_t>(P)), sy.resize(static_cast<size_t>(P)), sz.resize(static_cast<size_t>(P));
    for (int64_t p = 0; p < P; ++p) {
      const int64_t at = fill[cell[p]]++;
      index[at] = p, sx[at] = x[p], sy[at] = y[p], sz[at] = z[p];
    }
    return true;
  }
};

void knn_grid_query(const Knn& f, const CloudGrid& gr, int64_t k) {
  const int64_t P = f.P, K = f.K, b = k / f.G;
  const double* x = f.xyz + b * 3 * P;
  const int64_t c = f.centres[k];
  const double q[3] = {x[c], x[P + c], x[2 * P + c]};
  const int64_t qc[3] = {gr.cell_of(q[0], 0), gr.cell_of(q[1], 1), gr.cell_of(q[2], 2)};
  double* d = f.dist + k * K;
  int64_t* o = f.idx + k * K;
  int64_t count = 0;
  for (int64_t r = 0;; ++r) {
    int64_t lo[3], hi[3];
    for (int a = 0; a < 3; ++a) lo[a] = vmax<int64_t>(qc[a] - r, 0), hi[a] = vmin<int64_t>(qc[a] + r, gr.n[a] - 1);
    for (int64_t cz = lo[2]; cz <= hi[2]; ++cz)
      for (int64_t cy = lo[1]; cy <= hi[1]; ++cy)
        for (int64_t cx = lo[0]; cx <= hi[0]; ++cx) {
          const bool inner = cx - qc[0] < r && qc[0] - cx < r && cy - qc[1] < r && qc[1] - cy < r &&
                             cz - qc[2] < r && qc[2] - cz < r;
          if (inner) continue;  // visited in an earlier shell
          const int64_t cell = (cz * gr.n[1] + cy) * gr.n[0] + cx;
          for (int64_t s = gr.start[cell]; s < gr.start[cell + 1]; ++s)
            count = knn_insert(d, o, count, K, sq_dist(gr.sx[s], gr.sy[s], gr.sz[s], q[0], q[1], q[2]), gr.index[s]);
        }
    // distance from q to the nearest cell not yet visited (none left: done)
    double bound = static_cast<double>(INFINITY);
    for (int a = 0; a < 3; ++a) {
      if (qc[a] - r > 0) bound = vmin(bound, q[a] - (gr.lo[a] + static_cast<double>(qc[a] - r) * gr.size));
      if (qc[a] + r < gr.n[a] - 1) bound = vmin(bound, gr.lo[a] + static_cast<double>(qc[a] + r + 1) * gr.size - q[a]);
    }
    if (bound == static_cast<double>(INFINITY)) return;
    const double safe = bound - gr.margin;
    if (count == K && safe > 0.0 && d[K - 1] < safe * safe) return;
  }
}

constexpr int64_t kGridMinPoints = 1024;  // smaller clouds: the brute-force lanes

VR_CPU_CLONES(VR_NOT_TEMPLATE, fps, (const Fps& f, int64_t b, int64_t e), for (; b < e; ++b) fps_cloud<d4>(f.xyz, f.P, f.G, f.mind, f.out, b))
VR_CPU_CLONES(VR_NOT_TEMPLATE, knn, (const Knn& f, int64_t b, int64_t e), for (; b < e; ++b) knn_lanes(f, b))
#endif

}  // namespace

void farthest_point_sampling_cpu(const PointArgs& p) {
  const Fps f{ptr<const double>(p.xyz), p.P, p.G, ptr<double>(p.mind), ptr<int64_t>(p.centres)};
#ifdef VR_HAVE_D4
  if (cpu_path() != CpuPath::Scalar) {
    const bool avx2 = cpu_path() == CpuPath::Avx2;
    return parallel_ranges(p.B, 1, [&](int64_t b, int64_t e) { avx2 ? fps_avx2(f, b, e) : fps_default(f, b, e); });
  }
#endif
  CpuExec{}.for_each(p.B, f, 1);
}

void knn_cpu(const PointArgs& p) {
  const Knn f{ptr<const double>(p.xyz), ptr<const int64_t>(p.centres), p.P, p.G, p.K, ptr<double>(p.dist),
              ptr<int64_t>(p.idx)};
#ifdef VR_HAVE_D4
  if (cpu_path() != CpuPath::Scalar && p.P >= kGridMinPoints && p.G * p.K * 4 >= p.P) {
    std::vector<CloudGrid> grids(static_cast<size_t>(p.B));
    std::vector<uint8_t> gridded(static_cast<size_t>(p.B), 0);
    parallel_ranges(p.B, 1, [&](int64_t b, int64_t e) {
      for (; b < e; ++b) {
        const double* x = f.xyz + b * 3 * p.P;
        gridded[b] = grids[b].build(x, x + p.P, x + 2 * p.P, p.P, p.K) ? 1 : 0;
      }
    });
    const bool avx2 = cpu_path() == CpuPath::Avx2;
    return parallel_ranges(p.B * p.G, 8, [&](int64_t b, int64_t e) {
      for (; b < e; ++b) {
        if (gridded[b / p.G]) knn_grid_query(f, grids[b / p.G], b);
        else if (avx2) knn_avx2(f, b, b + 1);
        else knn_default(f, b, b + 1);
      }
    });
  }
  if (cpu_path() != CpuPath::Scalar) {
    const bool avx2 = cpu_path() == CpuPath::Avx2;
    return parallel_ranges(p.B * p.G, 8, [&](int64_t b, int64_t e) { avx2 ? knn_avx2(f, b, e) : knn_default(f, b, e); });
  }
#endif
  CpuExec{}.for_each(p.B * p.G, f, 8);
}

}  // namespace vr
