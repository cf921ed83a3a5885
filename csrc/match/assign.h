// The assignment problem of match_boxes: the minimum-cost assignment of the n rows of a cost matrix
// to distinct columns (n <= m), exactly, by shortest augmenting paths with dual potentials (the
// Hungarian method in Jonker and Volgenant's form). Every reduced cost cost_ij - u_i - v_j stays >= 0
// and every matched pair's is 0, so each augmentation along a shortest path keeps the rows done so
// far optimally assigned.
//
// Lane-generic: V = double (one column at a time; the scalar and SSE2 CPU paths) or d4 (four; the
// AVX2 clone). Both do the same double arithmetic in the same order and break ties the same way —
// the lowest column among equal costs, rows in index order — so every path returns the same
// assignment, on every run. Host code only (match_boxes runs on the CPU).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/macros.h"
#include "common/simd.h"

namespace vr {

constexpr int64_t kAssignLanes = 4;                    // cost rows are padded to whole lanes of 4
constexpr double kAssignPad = 1e300;                   // the cost of a padding column
inline int64_t assign_stride(int64_t m) { return (m + kAssignLanes - 1) / kAssignLanes * kAssignLanes; }

VR_LANE_INLINE double lane_min(double x) { return x; }
#ifdef VR_HAVE_D4
VR_LANE_INLINE double lane_min(d4 x) { return vmin(vmin(x[0], x[1]), vmin(x[2], x[3])); }
#endif

// A scratch buffer of at least n elements: it only grows, so repeated calls allocate nothing.
template <class X> inline X* scratch(std::vector<X>& x, int64_t n) {
  if (x.size() < static_cast<size_t>(n)) x.resize(static_cast<size_t>(n));
  return x.data();
}

// Scratch of the solver.
struct AssignScratch {
  std::vector<double> u, v, dist, open, from;
  std::vector<int64_t> col_row, row_col, rows_reached, cols_settled, free_rows;
};

// The lowest j < m with x[j] == want (one exists).
VR_LANE_INLINE int64_t first_equal(const double* x, int64_t m, double want) {
  int64_t j = 0;
  while (j + 1 < m && x[j] != want) ++j;
  return j;
}

// Warm start, one row: row i's cheapest column (cost cb) is `best`; u_i = cb, and the row takes
// the column when it is free, else joins the free rows (branch-free: which happens is data).
VR_LANE_INLINE void warm_row(int64_t i, int64_t best, double cb, double* U, int64_t* cr, int64_t* rc, int64_t* fr,
                             int64_t& nfree) {
  U[i] = cb;
  const bool take = cr[best] < 0;
  cr[best] = take ? i : cr[best];
  rc[i] = take ? best : -1;
  fr[nfree] = i, nfree += !take;
}

// After a search from `start` that settled its sink at distance lo: the reached rows' duals (the
// columns' are the caller's) and the flip of the path's pairs. dist: each column's distance; from:
// the row each column was reached from; rr[0, nrr): the rows reached, start first.
VR_LANE_INLINE void augment(int64_t start, int64_t sink, double lo, const double* dist, const double* from,
                            const int64_t* rr, int64_t nrr, double* U, int64_t* cr, int64_t* rc) {
  U[start] += lo;
  for (int64_t k = 1; k < nrr; ++k) U[rr[k]] += lo - dist[rc[rr[k]]];
  for (int64_t j = sink;;) {
    const int64_t r = static_cast<int64_t>(from[j]), next = rc[r];
    cr[j] = r, rc[r] = j;
    if (r == start) break;
    j = next;
  }
}

// cost: n rows of `ld = assign_stride(m)` doubles, columns [m, ld) holding kAssignPad; finite costs.
// row_to_col[i]: row i's column.
template <class V>
VR_LANE_INLINE void assign_lanes(const double* cost, int64_t n, int64_t m, AssignScratch& s, int64_t* row_to_col) {
  using L = Lanes<V>;
  const int64_t ld = assign_stride(m);
  double* U = scratch(s.u, n);
  double* Vd = scratch(s.v, ld);
  double* d = scratch(s.dist, ld);        // shortest path length to each column so far
  double* open = scratch(s.open, ld);     // 1: not yet settled (padding: never open)
  double* from = scratch(s.from, ld);     // the row each column was reached from
  int64_t* cr = scratch(s.col_row, ld);   // the row matched to column j, or -1
  int64_t* rc = scratch(s.row_col, n);    // the column matched to row i, or -1
  int64_t* rr = scratch(s.rows_reached, n);
  int64_t* cs = scratch(s.cols_settled, ld);
  int64_t* fr = scratch(s.free_rows, n);  // the rows the warm start left, in order
  int64_t nfree = 0;
  std::fill(Vd, Vd + ld, 0.0);
  std::fill(cr, cr + ld, int64_t{-1});
  // Warm start (row reduction): u_i = min_j cost_ij keeps every reduced cost >= 0 with v = 0 (free
  // columns keep v = 0, as the rectangular problem needs); a row whose cheapest column (the lowest
  // such) is still free takes it, in row order. Shortest paths run only for the rows left.
  for (int64_t i = 0; i < n; ++i) {
    const double* row = cost + i * ld;
    V lo = splat<V>(kAssignPad);
    for (int64_t j = 0; j < ld; j += L::n) lo = vmin(lo, L::load(row + j));
    const double cb = lane_min(lo);
    warm_row(i, first_equal(row, m, cb), cb, U, cr, rc, fr, nfree);
  }
  for (int64_t f = 0; f < nfree; ++f) {
    const int64_t start = fr[f];
    // Dijkstra from `start` over reduced costs until a free column is settled; `lo` is the length
    // of the path to the column settled last.
    for (int64_t j = 0; j < ld; ++j) d[j] = kAssignPad, open[j] = j < m ? 1.0 : 0.0;
    int64_t nrr = 0, ncs = 0, i = start, sink = -1;
    double lo = 0.0;
    while (sink < 0) {
      rr[nrr++] = i;
      const double* row = cost + i * ld;
      const V base = splat<V>(lo - U[i]), vi = splat<V>(static_cast<double>(i)), none = splat<V>(kAssignPad);
      V best = none;
      for (int64_t j = 0; j < ld; j += L::n) {
        const V r = base + L::load(row + j) - L::load(Vd + j), dj = L::load(d + j);
        const auto live = L::load(open + j) != 0.0;
        const auto shorter = live & (r < dj);
        const V nd = shorter ? r : dj;
        L::store(d + j, nd);
        L::store(from + j, shorter ? vi : L::load(from + j));
        best = vmin(best, live ? nd : none);
      }
      lo = lane_min(best);
      int64_t jb = 0;  // the lowest open column at distance lo
      while (!(open[jb] != 0.0 && d[jb] == lo)) ++jb;
      open[jb] = 0.0;
      cs[ncs++] = jb;
      if (cr[jb] < 0) sink = jb;
      else i = cr[jb];
    }
    // The duals: each settled column's v and each reached row's u move by how far short of the
    // sink's distance they were settled; every reduced cost stays >= 0 and the path becomes tight.
    for (int64_t k = 0; k < ncs; ++k) Vd[cs[k]] -= lo - d[cs[k]];
    augment(start, sink, lo, d, from, rr, nrr, U, cr, rc);
  }
  for (int64_t i = 0; i < n; ++i) row_to_col[i] = rc[i];
}

#ifdef VR_HAVE_D4
// The same algorithm as assign_lanes for m <= 4K columns, K fixed: the columns' duals, distances and
// states stay in K registers of four lanes, and every loop over columns has a fixed trip count (on
// problems this small, the mispredicted exits of variable-length loops cost more than the work).
// The arithmetic and the tie rule are assign_lanes' own; the lowest column of a set is found as
// the least of its indices, without a branch.
template <int K>
VR_LANE_INLINE void assign_fixed(const double* cost, int64_t n, int64_t m, AssignScratch& s, int64_t* row_to_col) {
  constexpr int64_t ld = 4 * K;
  const d4 none = splat<d4>(kAssignPad);
  d4 V[K], idx[K];
  m4 cols[K];  // -1 for a real column, 0 for padding
  for (int k = 0; k < K; ++k) {
    V[k] = splat<d4>(0.0);
    idx[k] = d4{4.0 * k, 4.0 * k + 1, 4.0 * k + 2, 4.0 * k + 3};
    cols[k] = idx[k] < static_cast<double>(m);
  }
  double* U = scratch(s.u, n);
  int64_t* rc = scratch(s.row_col, n);
  int64_t* rr = scratch(s.rows_reached, n);
  int64_t* fr = scratch(s.free_rows, n);
  int64_t nfree = 0;
  int64_t cr[ld];
  for (int64_t j = 0; j < ld; ++j) cr[j] = -1;
  for (int64_t i = 0; i < n; ++i) {  // warm start (row reduction), as in assign_lanes
    const double* row = cost + i * ld;
    d4 c[K];
    for (int k = 0; k < K; ++k) c[k] = load_d4(row + 4 * k);
    d4 lo = c[0];
    for (int k = 1; k < K; ++k) lo = vmin(lo, c[k]);
    const double cb = lane_min(lo);
    d4 first = none;
    for (int k = 0; k < K; ++k) first = vmin(first, c[k] == cb ? idx[k] : none);
    warm_row(i, static_cast<int64_t>(lane_min(first)), cb, U, cr, rc, fr, nfree);
  }
  for (int64_t f = 0; f < nfree; ++f) {
    const int64_t start = fr[f];
    d4 d[K], from[K];
    m4 open[K];
    for (int k = 0; k < K; ++k) d[k] = none, from[k] = splat<d4>(0.0), open[k] = cols[k];
    int64_t nrr = 0, i = start, sink = -1;
    double lo = 0.0;
    while (sink < 0) {
      rr[nrr++] = i;
      const double* row = cost + i * ld;
      const d4 base = splat<d4>(lo - U[i]), vi = splat<d4>(static_cast<double>(i));
      d4 best = none;
      for (int k = 0; k < K; ++k) {
        const d4 r = base + load_d4(row + 4 * k) - V[k];
        const m4 shorter = open[k] & (r < d[k]);
        d[k] = shorter ? r : d[k];
        from[k] = shorter ? vi : from[k];
        best = vmin(best, open[k] ? d[k] : none);
      }
      lo = lane_min(best);
      d4 first = none;
      for (int k = 0; k < K; ++k) first = vmin(first, (open[k] & (d[k] == lo)) ? idx[k] : none);
      const double jd = lane_min(first);
      const int64_t jb = static_cast<int64_t>(jd);
      for (int k = 0; k < K; ++k) open[k] &= idx[k] != jd;  // (a lane store would stall the next loads)
      if (cr[jb] < 0) sink = jb;
      else i = cr[jb];
    }
    double dist[ld], src[ld];
    for (int k = 0; k < K; ++k) {
      std::memcpy(dist + 4 * k, &d[k], sizeof(d4));
      std::memcpy(src + 4 * k, &from[k], sizeof(d4));
      const m4 settled = cols[k] & ~open[k];
      V[k] = settled ? V[k] - (splat<d4>(lo) - d[k]) : V[k];
    }
    augment(start, sink, lo, dist, src, rr, nrr, U, cr, rc);
  }
  for (int64_t i = 0; i < n; ++i) row_to_col[i] = rc[i];
}

// assign_fixed for m <= 32, assign_lanes<d4> above.
VR_LANE_INLINE void assign_d4(const double* cost, int64_t n, int64_t m, AssignScratch& s, int64_t* row_to_col) {
  switch (assign_stride(m) / 4) {
    case 1: return assign_fixed<1>(cost, n, m, s, row_to_col);
    case 2: return assign_fixed<2>(cost, n, m, s, row_to_col);
    case 3: return assign_fixed<3>(cost, n, m, s, row_to_col);
    case 4: return assign_fixed<4>(cost, n, m, s, row_to_col);
    case 5: return assign_fixed<5>(cost, n, m, s, row_to_col);
    case 6: return assign_fixed<6>(cost, n, m, s, row_to_col);
    case 7: return assign_fixed<7>(cost, n, m, s, row_to_col);
    case 8: return assign_fixed<8>(cost, n, m, s, row_to_col);
    default: return assign_lanes<d4>(cost, n, m, s, row_to_col);
  }
}
#endif

}  // namespace vr
