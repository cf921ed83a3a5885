// One-to-one matching of predicted and ground-truth boxes per sample (the set rewards of many-object
// answers): the assignment that maximizes the total IoU over pairs with equal labels and IoU > 0,
// exactly, on costs -IoU (0 for pairs that may not match). Rows and columns without a positive IoU
// are dropped first; the rest splits into the connected components of the positive pairs, each an
// independent problem: a lone pair is taken as it is, the rest goes to match/assign.h's
// solver (shortest augmenting paths with potentials), whose order is fixed — rows in index order,
// the lowest column among equal reduced costs — so ties resolve the same way on every run and on
// every CPU path. Pairs assigned at cost 0 are left unmatched (-1). CPU only: the IoU matrix and the
// solver's state live in per-thread scratch (match_cpu.cpp).
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

// At most this many boxes per sample on either side (P, G): a sample's IoU matrix and the
// solver's cost matrix are dense, 2 * P * G doubles and P * G int32 hit columns of scratch per
// thread (320 MiB at the limit).
constexpr int64_t kMatchMaxBoxes = 4096;

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
