// The CPU loop of match_boxes (match/match.h): per sample, the IoU matrix, the rows and columns that
// can match at all, then the assignment. Axis-aligned boxes fill the matrix on four lanes at a time
// (the ground truth as structure-of-arrays hulls, with an AVX2 clone chosen at run time); the scalar
// path (cpu_path "scalar") fills it pair by pair with box_iou_raw, and every path gives bitwise the
// same matrix: the lanes run box_iou.h's formula and hand each lane it cannot decide to box_iou.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/cpu_exec.h"
#include "common/cpu_features.h"
#include "match/assign.h"
#include "match/match.h"

namespace vr {

namespace {
// Per-thread scratch of one sample's matching (buffers grown by assign.h's scratch()).
struct MatchScratch {
  int64_t stride = 0;  // of w's rows: ng, or ng rounded up to whole lanes
  std::vector<double> w, cost, glo, ghi, gok;
  std::vector<int64_t> rc, rows, cols, row_hits, col_hits, glab;
  AssignScratch a;
};

template <class T> struct SampleView {  // sample s of the batch
  const T* pred;
  const T* gt;
  const int64_t* pl;  // labels, or null (all equal)
  const int64_t* gl;
  int64_t np, ng, width;
  bool same_label(int64_t i, int64_t j) const { return pl == nullptr || pl[i] == gl[j]; }
};

// Scalar: w[i, j] = IoU, 0 where the labels differ; any box kind.
template <class T> void matrix_scalar(const SampleView<T>& v, int kind, const BoxSeq& seq, MatchScratch& m) {
  m.stride = v.ng;
  double* w = scratch(m.w, v.np * v.ng);
  int64_t* rh = scratch(m.row_hits, v.np);
  int64_t* ch = scratch(m.col_hits, v.ng);
  std::fill(ch, ch + v.ng, int64_t{0});
  for (int64_t i = 0; i < v.np; ++i) {
    rh[i] = 0;
    for (int64_t j = 0; j < v.ng; ++j) {
      const double r = v.same_label(i, j) ? pair_iou(v.pred + i * v.width, v.gt + j * v.width, kind, seq) : 0.0;
      w[i * v.ng + j] = r;
      if (r > 0.0) ++rh[i], ++ch[j];
    }
  }
}

#ifdef VR_HAVE_D4
// A box that can have a positive IoU: finite, a positive extent on every axis (the rest give 0 by
// box_iou.h's rules, so the lanes skip them).
template <int D, class T> VR_LANE_INLINE bool load_live_box(const T* p, Box<D>& b) {
  bool ok = load_box<D>(p, b);
  for (int k = 0; k < D; ++k) ok &= b.hi[k] > b.lo[k];
  return ok;
}

VR_LANE_INLINE m4 load_m4(const int64_t* p) {
  m4 x;
  std::memcpy(&x, p, sizeof x);
  return x;
}
VR_LANE_INLINE bool any(m4 x) { return (x[0] | x[1] | x[2] | x[3]) != 0; }

// Lanes: the same matrix as matrix_scalar for axis-aligned boxes (kinds 0 and 1).
template <class T, int D> VR_LANE_INLINE void matrix_lanes(const SampleView<T>& v, MatchScratch& m) {
  const int64_t ng = v.ng, st = (ng + kLanes - 1) / kLanes * kLanes;
  m.stride = st;
  double* glo = scratch(m.glo, D * st);
  double* ghi = scratch(m.ghi, D * st);
  double* gok = scratch(m.gok, st);
  int64_t* glab = scratch(m.glab, st);
  int64_t* ch = scratch(m.col_hits, st);
  int64_t* rh = scratch(m.row_hits, v.np);
  double* w = scratch(m.w, v.np * st);
  for (int64_t j = 0; j < st; ++j) {  // padding lanes: dead boxes
    Box<D> b;
    const bool ok = j < ng && load_live_box<D>(v.gt + j * v.width, b);
    for (int k = 0; k < D; ++k) glo[k * st + j] = ok ? b.lo[k] : 0.0, ghi[k * st + j] = ok ? b.hi[k] : 1.0;
    gok[j] = ok ? 1.0 : 0.0;
    glab[j] = j < ng && v.gl != nullptr ? v.gl[j] : 0;
    ch[j] = 0;
  }
  for (int64_t i = 0; i < v.np; ++i) {
    double* row = w + i * st;
    rh[i] = 0;
    Box<D> a;
    if (!load_live_box<D>(v.pred + i * v.width, a)) {
      std::fill(row, row + st, 0.0);
      continue;
    }
    d4 alo[D], ahi[D];
    for (int k = 0; k < D; ++k) alo[k] = splat<d4>(a.lo[k]), ahi[k] = splat<d4>(a.hi[k]);
    const int64_t la = v.pl != nullptr ? v.pl[i] : 0;
    const m4 lab = {la, la, la, la};
    m4 hits = {0, 0, 0, 0};
    for (int64_t j = 0; j < st; j += kLanes) {
      d4 blo[D], bhi[D];
      for (int k = 0; k < D; ++k) blo[k] = load_d4(glo + k * st + j), bhi[k] = load_d4(ghi + k * st + j);
      m4 fast;
      d4 r = box_iou_lanes<D>(alo, ahi, blo, bhi, fast);
      const m4 live = (load_d4(gok + j) != 0.0) & (load_m4(glab + j) == lab);
      if (any(live & ~fast)) {  // extreme scale: box_iou decides those lanes
        for (int l = 0; l < kLanes; ++l) {
          if (!live[l] || fast[l]) continue;
          Box<D> b;
          for (int k = 0; k < D; ++k) b.lo[k] = glo[k * st + j + l], b.hi[k] = ghi[k * st + j + l];
          r[l] = box_iou<D>(a, b);
        }
      }
      r = live ? r : splat<d4>(0.0);
      std::memcpy(row + j, &r, sizeof r);
      const m4 pos = r > 0.0;  // -1 where positive
      hits -= pos;
      m4 c = load_m4(ch + j);
      c -= pos;
      std::memcpy(ch + j, &c, sizeof c);
    }
    rh[i] = hits[0] + hits[1] + hits[2] + hits[3];
  }
}

#define VR_MATCH_TEMPLATE template <class T, int D>
VR_CPU_CLONES(VR_MATCH_TEMPLATE, matrix, (const SampleView<T>& v, MatchScratch& m), (matrix_lanes<T, D>(v, m)))
#endif

// The IoU matrix of one sample on the path in force.
template <class T> void matrix(const SampleView<T>& v, int kind, const BoxSeq& seq, MatchScratch& m) {
#ifdef VR_HAVE_D4
  const CpuPath path = cpu_path();
  if (path != CpuPath::Scalar && (kind == 0 || kind == 1)) {
    const bool avx2 = path == CpuPath::Avx2;
    if (kind == 0) return avx2 ? matrix_avx2<T, 2>(v, m) : matrix_default<T, 2>(v, m);
    return avx2 ? matrix_avx2<T, 3>(v, m) : matrix_default<T, 3>(v, m);
  }
#endif
  matrix_scalar(v, kind, seq, m);
}

// The assignment of one reduced problem on the path in force (the same result on every path). The
// four-lane solver runs only in the AVX2 clone: emulated on SSE2's two lanes, its masked selects
// cost more than they save, so the SSE2 path takes the one-column solver, as the scalar path does.
#ifdef VR_HAVE_D4
__attribute__((target("avx2"))) void solve_assignment_avx2(const double* cost, int64_t n, int64_t m, AssignScratch& s,
                                                           int64_t* rc) {
  assign_d4(cost, n, m, s, rc);
}
#endif
void solve_assignment(const double* cost, int64_t n, int64_t m, AssignScratch& s, int64_t* rc) {
#ifdef VR_HAVE_D4
  if (cpu_path() == CpuPath::Avx2) return solve_assignment_avx2(cost, n, m, s, rc);
#endif
  assign_lanes<double>(cost, n, m, s, rc);
}

template <class T> void match_rows(const MatchArgs& p, int64_t b, int64_t e) {
  const BoxSeq seq = box_seq_of(p);
  const int64_t* pc = ptr<const int64_t>(p.pred_counts);
  const int64_t* gc = ptr<const int64_t>(p.gt_counts);
  const int64_t* pl = ptr<const int64_t>(p.pred_labels);
  const int64_t* gl = ptr<const int64_t>(p.gt_labels);
  int64_t* assign = ptr<int64_t>(p.assignment);
  T* iou_out = ptr<T>(p.iou);
  MatchScratch m;
  for (int64_t s = b; s < e; ++s) {
    const int64_t np = std::min(std::max<int64_t>(pc[s], 0), p.P), ng = std::min(std::max<int64_t>(gc[s], 0), p.G);
    int64_t* as = assign + s * p.P;
    T* io = iou_out + s * p.P;
    std::fill(as, as + p.P, int64_t{-1});
    std::fill(io, io + p.P, T(0));
    if (np == 0 || ng == 0) continue;
    const SampleView<T> v{ptr<const T>(p.pred) + s * p.P * p.width, ptr<const T>(p.gt) + s * p.G * p.width,
                          pl != nullptr ? pl + s * p.P : nullptr, pl != nullptr ? gl + s * p.G : nullptr,
                          np, ng, p.width};
    matrix(v, p.kind, seq, m);
    const double* w = m.w.data();
    const int64_t st = m.stride;
    // Rows and columns without a positive IoU can only be matched at 0: they are left out (the
    // optimum's total is the same). When what is left pairs off (one positive per row and per
    // column), those pairs are the assignment; otherwise the Hungarian method solves the rest.
    int64_t* rows = scratch(m.rows, np);
    int64_t* cols = scratch(m.cols, ng);
    int64_t nr = 0, nc = 0;
    bool paired = true;
    for (int64_t i = 0; i < np; ++i) {  // branch-free: which rows have a hit is data, not a pattern
      const int64_t h = m.row_hits[i];
      rows[nr] = i, nr += h > 0, paired &= h <= 1;
    }
    for (int64_t j = 0; j < ng; ++j) {
      const int64_t h = m.col_hits[j];
      cols[nc] = j, nc += h > 0, paired &= h <= 1;
    }
    if (nr == 0) continue;
    if (paired) {
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t i = rows[r];
        for (int64_t j = 0; j < ng; ++j) {
          const double x = w[i * st + j];
          as[i] = x > 0.0 ? j : as[i];
          io[i] = x > 0.0 ? static_cast<T>(x) : io[i];
        }
      }
      continue;
    }
    // the reduced problem, rows the smaller side, rows padded to whole lanes
    const bool flip = nr > nc;
    const int64_t hr = flip ? nc : nr, hc = flip ? nr : nc, ld = assign_stride(hc);
    double* cost = scratch(m.cost, hr * ld);
    for (int64_t r = 0; r < hr; ++r) {
      double* row = cost + r * ld;
      if (!flip) {
        for (int64_t c = 0; c < hc; ++c) row[c] = -w[rows[r] * st + cols[c]];
      } else {
        for (int64_t c = 0; c < hc; ++c) row[c] = -w[rows[c] * st + cols[r]];
      }
      std::fill(row + hc, row + ld, kAssignPad);
    }
    int64_t* rc = scratch(m.rc, hr);
    solve_assignment(cost, hr, hc, m.a, rc);
    for (int64_t r = 0; r < hr; ++r) {  // every row has a column (hr <= hc); pairs at IoU 0 stay -1
      const int64_t c = rc[r];
      const int64_t i = rows[flip ? c : r], j = cols[flip ? r : c];
      const double x = w[i * st + j];
      as[i] = x > 0.0 ? j : as[i];
      io[i] = x > 0.0 ? static_cast<T>(x) : io[i];
    }
  }
}
}  // namespace

void match_boxes_cpu(const MatchArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    parallel_ranges(p.n, 16, [&](int64_t b, int64_t e) { match_rows<T>(p, b, e); });
  });
}

}  // namespace vr
