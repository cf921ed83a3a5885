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
// Samples with more pairs than this record each row's positive columns as the matrix is filled (the
// lane paths; the scalar path always does): the component split then reads the hits, not the matrix;
// smaller ones of up to 64 truths record them as one word a row instead.
constexpr int64_t kRecordHitsAbove = 1024;

// Per-thread scratch of one sample's matching (buffers grown by assign.h's scratch()).
struct MatchScratch {
  int64_t stride = 0;  // of w's rows: ng, or ng rounded up to whole lanes
  std::vector<double> w, cost, glo, ghi, gok;
  std::vector<int64_t> rc, rows, cols, row_hits, col_hits, glab, parent, col_node, root, comp_start, comp_rows, comp_cols,
      order;
  std::vector<int32_t> hit_cols;  // each row's positive columns, rows in order (row_hits[i] of them)
  std::vector<uint64_t> row_bits;  // each row's positive columns as one word (up to 64 truths)
  bool hits_recorded = false;      // hit_cols filled by the matrix (the scalar path, large samples)
  bool bits_recorded = false;      // row_bits filled by the matrix (small samples of the lane paths)
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
  int32_t* hc = scratch(m.hit_cols, v.np * v.ng);
  int64_t nh = 0;
  m.hits_recorded = true;
  m.bits_recorded = false;
  std::fill(ch, ch + v.ng, int64_t{0});
  for (int64_t i = 0; i < v.np; ++i) {
    rh[i] = 0;
    for (int64_t j = 0; j < v.ng; ++j) {
      const double r = v.same_label(i, j) ? pair_iou(v.pred + i * v.width, v.gt + j * v.width, kind, seq) : 0.0;
      w[i * v.ng + j] = r;
      if (r > 0.0) ++rh[i], ++ch[j], hc[nh++] = static_cast<int32_t>(j);
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
  // large samples skip the blocks without an intersection and record each row's positive columns
  // (small ones are read from w directly)
  const bool record = v.np * v.ng > kRecordHitsAbove;
  int32_t* hc = record ? scratch(m.hit_cols, v.np * st) : nullptr;
  int64_t nh = 0;
  m.hits_recorded = record;
  // small samples of up to 64 truths: each row's positive columns as one word (split_small's input)
  const bool bits = !record && ng <= 64;
  uint64_t* rb = bits ? scratch(m.row_bits, v.np) : nullptr;
  m.bits_recorded = bits;
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
    if (bits) rb[i] = 0;
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
    m4 word = {0, 0, 0, 0};  // the row's positive columns, one bit each, gathered lane by lane
    const m4 lane_bit = {1, 2, 4, 8};
    for (int64_t j = 0; j < st; j += kLanes) {
      d4 blo[D], bhi[D];
      for (int k = 0; k < D; ++k) blo[k] = load_d4(glo + k * st + j), bhi[k] = load_d4(ghi + k * st + j);
      if (record) {  // a large sample: a block no lane of which intersects is IoU 0 by rule (most
                     // blocks of a crowded scene); small ones compute every block without the branch
        m4 overlap = load_d4(gok + j) != 0.0;
        for (int k = 0; k < D; ++k) overlap &= vmin(ahi[k], bhi[k]) > vmax(alo[k], blo[k]);
        if (!any(overlap)) {
          std::memset(row + j, 0, sizeof(d4));
          continue;
        }
      }
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
      if (record) {
        for (int l = 0; l < kLanes; ++l) hc[nh] = static_cast<int32_t>(j + l), nh += pos[l] != 0;
      }
      if (bits) word |= (pos & lane_bit) << j;  // j < 64 here: st <= 64
      m4 c = load_m4(ch + j);
      c -= pos;
      std::memcpy(ch + j, &c, sizeof c);
    }
    rh[i] = hits[0] + hits[1] + hits[2] + hits[3];
    if (bits) rb[i] = static_cast<uint64_t>(word[0] | word[1] | word[2] | word[3]);
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

// The assignment of one component: rows[0, nr) and cols[0, nc) of the IoU matrix (each in index
// order), the smaller side as the solver's rows; as/io: the sample's outputs.
template <class T> void solve_component(const int64_t* rows, int64_t nr, const int64_t* cols, int64_t nc, MatchScratch& m,
                                        int64_t* as, T* io) {
  const double* w = m.w.data();
  const int64_t st = m.stride;
  if (nr == 1 || nc == 1) {  // one row or one column: the pair of the highest IoU, the lowest index
    // among equals, which is what the solver's warm start takes (its rows the smaller side)
    int64_t bi = rows[0], bj = cols[0];
    double best = w[bi * st + bj];
    for (int64_t r = 0; r < nr; ++r) {
      for (int64_t c = 0; c < nc; ++c) {
        const double x = w[rows[r] * st + cols[c]];
        if (x > best) best = x, bi = rows[r], bj = cols[c];
      }
    }
    if (best > 0.0) as[bi] = bj, io[bi] = static_cast<T>(best);
    return;
  }
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

// Union-find root with path halving.
inline int64_t find_root(int64_t* parent, int64_t x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

// The component split of solve_sample for a sample of at most 64 truths, on the words of positive
// columns the matrix recorded (m.row_bits, one per row, over the truths' indices): each component
// grown from its lowest row by taking every later row that touches its columns until none does
// (without a branch per row). The same components, in the same order, as the union-find below.
template <class T> void split_small(const int64_t* rows, int64_t nr, const int64_t* cols, int64_t nc, MatchScratch& m,
                                    int64_t* as, T* io) {
  const uint64_t* bits = m.row_bits.data();
  int64_t* comp = scratch(m.root, nr);  // the component (its lowest row) of each live row, -1 while none
  std::fill(comp, comp + nr, int64_t{-1});
  int64_t* sub_rows = scratch(m.order, nr + 64);
  int64_t* sub_cols = sub_rows + nr;
  for (int64_t r0 = 0; r0 < nr; ++r0) {
    if (comp[r0] >= 0) continue;
    comp[r0] = r0;
    uint64_t reach = bits[rows[r0]];
    int64_t members = 1;
    for (bool grew = true; grew;) {
      grew = false;
      for (int64_t r = r0 + 1; r < nr; ++r) {
        const uint64_t b = bits[rows[r]];
        const bool take = (comp[r] < 0) & ((b & reach) != 0);
        comp[r] = take ? r0 : comp[r];
        reach |= take ? b : 0;
        members += take, grew |= take;
      }
    }
    if (members == nr) return solve_component(rows, nr, cols, nc, m, as, io);  // one component
    int64_t k = 0, q = 0;
    for (int64_t r = r0; r < nr; ++r) {
      sub_rows[k] = rows[r], k += comp[r] == r0;
    }
    for (uint64_t b = reach; b != 0; b &= b - 1) sub_cols[q++] = __builtin_ctzll(b);
    solve_component(sub_rows, k, sub_cols, q, m, as, io);
  }
}

// One sample's assignment from its IoU matrix (m.w, m.row_hits, m.col_hits, and m.hit_cols when
// the matrix recorded them). Rows and columns without a positive IoU can only be matched at 0:
// they are left out (the optimum's total is the same). The rest splits into the connected
// components of the graph of positive pairs: no positive pair joins two components, so the
// optimum is each component's optimum, found alone (crowded scenes fall apart into many small
// problems that the fixed-width solvers take). Components are solved in the order of their lowest
// row, each with its rows and columns in index order. The cheap cases come first: every live row
// and column with one positive (each pair is a component), one live row or column (one component).
template <class T> void solve_sample(int64_t np, int64_t ng, MatchScratch& m, int64_t* as, T* io) {
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
  if (nr == 0) return;
  const double* w = m.w.data();
  const int64_t st = m.stride;
  if (paired) {  // every component a single pair
    for (int64_t r = 0; r < nr; ++r) {
      const int64_t i = rows[r];
      for (int64_t j = 0; j < ng; ++j) {
        const double x = w[i * st + j];
        as[i] = x > 0.0 ? j : as[i];
        io[i] = x > 0.0 ? static_cast<T>(x) : io[i];
      }
    }
    return;
  }
  if (nr == 1 || nc == 1) return solve_component(rows, nr, cols, nc, m, as, io);  // one component
  // small samples: the component split on the row words the matrix recorded; large ones: union-find
  // over its recorded hits (a crowded scene's many components would make the closure pass over its rows
  // again and again)
  if (m.bits_recorded) return split_small(rows, nr, cols, nc, m, as, io);
  // Union-find over the live rows (nodes 0..nr-1, in index order) and columns (nr..nr+nc-1); a
  // root is its component's lowest node, so a row, and the lowest row.
  const int64_t nodes = nr + nc;
  int64_t* parent = scratch(m.parent, nodes);
  int64_t* col_node = scratch(m.col_node, ng);  // column j -> its node (live columns only)
  for (int64_t k = 0; k < nodes; ++k) parent[k] = k;
  for (int64_t c = 0; c < nc; ++c) col_node[cols[c]] = nr + c;
  auto join = [&](int64_t a, int64_t b) {
    a = find_root(parent, a), b = find_root(parent, b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  };
  if (m.hits_recorded) {
    const int32_t* hit = m.hit_cols.data();  // row i's positive columns, rows in order
    for (int64_t i = 0, r = 0; i < np; ++i) {
      const int64_t k = m.row_hits[i];
      for (int64_t t = 0; t < k; ++t) join(r, col_node[hit[t]]);
      hit += k, r += k > 0;
    }
  } else {  // a small matrix: its live part read directly
    for (int64_t r = 0; r < nr; ++r) {
      const double* row = w + rows[r] * st;
      for (int64_t c = 0; c < nc; ++c) {
        if (row[cols[c]] > 0.0) join(r, nr + c);
      }
    }
  }
  // Counting sort of the live rows and columns by component (its root row), stable: each
  // component's rows, then its columns, in index order, in the slice [start[c], start[c + 1]).
  int64_t* root = scratch(m.root, nodes);
  int64_t* start = scratch(m.comp_start, nr + 1);
  int64_t* nrows = scratch(m.comp_rows, nr);  // per component: rows placed so far, then its row count
  int64_t* ncols = scratch(m.comp_cols, nr);
  std::fill(start, start + nr + 1, int64_t{0});
  std::fill(nrows, nrows + nr, int64_t{0});
  std::fill(ncols, ncols + nr, int64_t{0});
  int64_t components = 0;
  for (int64_t k = 0; k < nodes; ++k) {
    root[k] = find_root(parent, k);
    ++start[root[k] + 1];
    components += root[k] == k;
  }
  if (components == 1) return solve_component(rows, nr, cols, nc, m, as, io);
  for (int64_t r = 0; r < nr; ++r) start[r + 1] += start[r];
  int64_t* order = scratch(m.order, nodes);
  for (int64_t r = 0; r < nr; ++r) order[start[root[r]] + nrows[root[r]]++] = rows[r];
  for (int64_t c = 0; c < nc; ++c) {
    const int64_t g = root[nr + c];
    order[start[g] + nrows[g] + ncols[g]++] = cols[c];
  }
  for (int64_t g = 0; g < nr; ++g) {
    if (nrows[g] > 0) solve_component(order + start[g], nrows[g], order + start[g] + nrows[g], ncols[g], m, as, io);
  }
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
    solve_sample(np, ng, m, as, io);
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
