// One-to-one matching of predicted and ground-truth boxes per sample (the set rewards of many-object
// answers): the assignment that maximizes the total IoU over pairs with equal labels and IoU > 0,
// exactly, by the Hungarian method with potentials (Kuhn-Munkres in the O(n^2 m) form of Jonker
// and Volgenant's shortest augmenting paths), on costs -IoU (0 for pairs that may not match). The
// algorithm's order is fixed — rows in index order, the lowest column among equal reduced costs —
// so ties resolve the same way on every run. Pairs assigned at cost 0 are left unmatched (-1).
// CPU only: the IoU matrix and the algorithm's state live in per-thread scratch.
#pragma once
#include <cstdint>
#include <vector>

#include "box_iou/box_iou.h"
#include "common/abi.h"
#include "common/rotation.h"
#include "oriented/oriented.h"

namespace vr {

// kind: 0 axis-aligned 2D (width 4), 1 axis-aligned 3D (6), 2 rotated 2D (5), 3 oriented 3D
// (6 + seq.k; yaw fast path when seq.k == 1).
template <class T> inline double pair_iou(const T* a, const T* b, int kind, const BoxSeq& seq) {
  switch (kind) {
    case 0: return box_iou_raw<2>(a, b);
    case 1: return box_iou_raw<3>(a, b);
    case 2: return rect_iou(rect_of(a, seq.unit), rect_of(b, seq.unit));
    default:
      return seq.k == 1 ? yaw_iou(a, b, seq.axes[0], seq.unit) : oriented_box_iou(a, b, seq.axes, seq.k, seq.intrinsic, seq.unit);
  }
}

// Minimum-cost assignment of the n rows of cost [n, m] (n <= m, row-major) to distinct columns:
// row_to_col[i]. Scratch vectors are reused across calls.
struct Hungarian {
  std::vector<double> u, v, minv;
  std::vector<int64_t> p, way, free_rows;
  std::vector<char> used;
  void solve(const double* cost, int64_t n, int64_t m, int64_t* row_to_col) {
    const double inf = 1e300;
    u.assign(static_cast<size_t>(n + 1), 0.0);
    v.assign(static_cast<size_t>(m + 1), 0.0);
    p.assign(static_cast<size_t>(m + 1), 0);
    way.assign(static_cast<size_t>(m + 1), 0);
    // Warm start (row reduction): u_i = min_j cost_ij keeps every reduced cost cost_ij - u_i - v_j
    // >= 0 with v = 0, and free columns keep v = 0 as the rectangular problem needs; a row whose
    // cheapest column (the lowest such) is still free takes it, in row order. The shortest-path
    // phase below then runs only for the rows left, and the optimum is the same (the duals stay
    // feasible, the matched pairs tight).
    free_rows.clear();
    for (int64_t i = 1; i <= n; ++i) {
      int64_t best = 1;
      double cb = cost[(i - 1) * m];
      for (int64_t j = 2; j <= m; ++j)
        if (cost[(i - 1) * m + (j - 1)] < cb) cb = cost[(i - 1) * m + (j - 1)], best = j;
      u[static_cast<size_t>(i)] = cb;
      if (p[static_cast<size_t>(best)] == 0) p[static_cast<size_t>(best)] = i;
      else free_rows.push_back(i);
    }
    for (int64_t i : free_rows) {
      p[0] = i;
      int64_t j0 = 0;
      minv.assign(static_cast<size_t>(m + 1), inf);
      used.assign(static_cast<size_t>(m + 1), 0);
      do {
        used[static_cast<size_t>(j0)] = 1;
        const int64_t i0 = p[static_cast<size_t>(j0)];
        double delta = inf;
        int64_t j1 = 0;
        for (int64_t j = 1; j <= m; ++j) {
          if (used[static_cast<size_t>(j)]) continue;
          const double cur = cost[(i0 - 1) * m + (j - 1)] - u[static_cast<size_t>(i0)] - v[static_cast<size_t>(j)];
          if (cur < minv[static_cast<size_t>(j)]) minv[static_cast<size_t>(j)] = cur, way[static_cast<size_t>(j)] = j0;
          if (minv[static_cast<size_t>(j)] < delta) delta = minv[static_cast<size_t>(j)], j1 = j;
        }
        for (int64_t j = 0; j <= m; ++j) {
          if (used[static_cast<size_t>(j)]) {
            u[static_cast<size_t>(p[static_cast<size_t>(j)])] += delta;
            v[static_cast<size_t>(j)] -= delta;
          } else {
            minv[static_cast<size_t>(j)] -= delta;
          }
        }
        j0 = j1;
      } while (p[static_cast<size_t>(j0)] != 0);
      do {
        const int64_t j1 = way[static_cast<size_t>(j0)];
        p[static_cast<size_t>(j0)] = p[static_cast<size_t>(j1)];
        j0 = j1;
      } while (j0 != 0);
    }
    for (int64_t j = 1; j <= m; ++j)
      if (p[static_cast<size_t>(j)] != 0) row_to_col[p[static_cast<size_t>(j)] - 1] = j - 1;
  }
};

// The box kind of the ops that take any kind of box (match_boxes, detection_map): one list, one
// check, one BoxSeq.
#define VR_BOX_KIND_ARGS(X)                                                       \
  X(int64_t, width, 4)         /* numbers per box */                              \
  X(int, kind, 0)              /* 0 2d, 1 3d, 2 2d_rotated, 3 3d_oriented */      \
  VR_ROTATION_ARGS(X)

// false when the box-kind fields are inconsistent (*why says how)
template <class A> inline bool box_kind_ok(const A& p, const char** why) {
  if (p.kind < 0 || p.kind > 3) return *why = "kind must be 0 to 3", false;
  if (!rotation_ok(p, why)) return false;
  const int64_t want = p.kind == 0 ? 4 : p.kind == 1 ? 6 : p.kind == 2 ? 5 : 6 + p.k;
  if (p.width != want) return *why = "width does not fit the box kind", false;
  return true;
}

#define VR_MATCH_ARGS(X)                                                          \
  X(DType, dtype, DType::Float32)                                                 \
  X(int64_t, n, 0)                                                                \
  X(int64_t, P, 0)             /* padded predictions per sample */                \
  X(int64_t, G, 0)             /* padded ground-truth boxes per sample */         \
  VR_BOX_KIND_ARGS(X)                                                             \
  X(std::uintptr_t, pred, 0)        /* [n, P, width] */                           \
  X(std::uintptr_t, pred_counts, 0) /* int64 [n] */                               \
  X(std::uintptr_t, gt, 0)          /* [n, G, width] */                           \
  X(std::uintptr_t, gt_counts, 0)   /* int64 [n] */                               \
  X(std::uintptr_t, pred_labels, 0) /* int64 [n, P] or 0 (all equal) */           \
  X(std::uintptr_t, gt_labels, 0)   /* int64 [n, G] or 0 */                       \
  X(std::uintptr_t, assignment, 0)  /* int64 [n, P] out: matched gt or -1 */      \
  X(std::uintptr_t, iou, 0)         /* [n, P] out: the pair's IoU, 0 unmatched */
struct MatchArgs { VR_MATCH_ARGS(VR_ARG_MEMBER) };

void match_boxes_cpu(const MatchArgs& p);

}  // namespace vr
