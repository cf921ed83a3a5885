// CPU loops for FPS and KNN: the functors of points.h on the scalar path; on the SIMD paths the same
// distance formula on four points at a time (default target and an AVX2 clone), with the same
// selection rules (first maximum; ascending (distance, index)).
#include <cstdint>

#include "common/cpu_exec.h"
#include "common/cpu_features.h"
#include "common/simd.h"
#include "points/points.h"

namespace vr {
namespace {

#ifdef VR_HAVE_D4
template <class Tag> VR_LANE_INLINE void fps_lanes(const Fps& f, int64_t b) {
  const int64_t P = f.P;
  const double* x = f.xyz + b * 3 * P;
  const double* y = x + P;
  const double* z = y + P;
  double* md = f.mind + b * P;
  int64_t* o = f.out + b * f.G;
  for (int64_t p = 0; p < P; ++p) md[p] = 1.0 / 0.0;
  const int64_t body = P / kLanes * kLanes;
  int64_t cur = 0;
  for (int64_t g = 0; g < f.G; ++g) {
    o[g] = cur;
    const double cx = x[cur], cy = y[cur], cz = z[cur];
    const d4 cx4 = splat<d4>(cx), cy4 = splat<d4>(cy), cz4 = splat<d4>(cz);
    d4 best4 = splat<d4>(-1.0), arg4 = splat<d4>(0.0), pos4 = {0.0, 1.0, 2.0, 3.0};
    for (int64_t p = 0; p < body; p += kLanes) {
      const d4 m = vmin(load_d4(md + p), sq_dist(load_d4(x + p), load_d4(y + p), load_d4(z + p), cx4, cy4, cz4));
      __builtin_memcpy(md + p, &m, sizeof m);
      const m4 more = m > best4;  // each lane keeps the first maximum of its own points
      best4 = more ? m : best4;
      arg4 = more ? pos4 : arg4;
      pos4 += splat<d4>(static_cast<double>(kLanes));
    }
    double best = -1.0;
    int64_t arg = 0;
    for (int l = 0; l < kLanes; ++l) {  // the lowest index among the lanes' maxima
      const int64_t a = static_cast<int64_t>(arg4[l]);
      if (best4[l] > best || (best4[l] == best && a < arg)) best = best4[l], arg = a;
    }
    for (int64_t p = body; p < P; ++p) {  // the tail: indices above every lane's
      const double m = vmin(md[p], sq_dist(x[p], y[p], z[p], cx, cy, cz));
      md[p] = m;
      if (m > best) best = m, arg = p;
    }
    cur = arg;
  }
}

template <class Tag> VR_LANE_INLINE void knn_lanes(const Knn& f, int64_t k) {
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

struct Default {};
struct Avx2 {};
void fps_default(const Fps& f, int64_t b, int64_t e) { for (; b < e; ++b) fps_lanes<Default>(f, b); }
__attribute__((target("avx2"))) void fps_avx2(const Fps& f, int64_t b, int64_t e) { for (; b < e; ++b) fps_lanes<Avx2>(f, b); }
void knn_default(const Knn& f, int64_t b, int64_t e) { for (; b < e; ++b) knn_lanes<Default>(f, b); }
__attribute__((target("avx2"))) void knn_avx2(const Knn& f, int64_t b, int64_t e) { for (; b < e; ++b) knn_lanes<Avx2>(f, b); }
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
  if (cpu_path() != CpuPath::Scalar) {
    const bool avx2 = cpu_path() == CpuPath::Avx2;
    return parallel_ranges(p.B * p.G, 8, [&](int64_t b, int64_t e) { avx2 ? knn_avx2(f, b, e) : knn_default(f, b, e); });
  }
#endif
  CpuExec{}.for_each(p.B * p.G, f, 8);
}

}  // namespace vr
