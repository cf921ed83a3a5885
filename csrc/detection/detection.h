// Detection average precision (COCO / VOC evaluation): per class and IoU threshold, detections in
// descending score each take the unmatched ground-truth box of their image and class with the
// highest IoU, if that IoU >= the threshold (min(t, 1 - 1e-10), as COCOeval; among equal IoUs the
// later box, as COCOeval); then precision/recall over the class's detections in descending score
// (ties: lower image index, then input order; a NaN score is the lowest) and one of three
// interpolations: "coco101" (the precision envelope read at the 101 recalls i * 0.01, as COCOeval),
// "voc11" (the maximum precision at recall >= i * 0.1, i = 0..10, VOC2007) and "area" (the area
// under the envelope, VOC2010+). A class without ground truth has AP NaN; one with ground truth
// but no detections 0. No per-image detection cap, no crowd boxes, one area range.
#pragma once
#include <cstdint>

#include "common/abi.h"
#include "match/match.h"

namespace vr {

#define VR_DETECTION_ARGS(X)                                                           \
  X(DType, dtype, DType::Float64)                                                      \
  X(int64_t, D, 0)                 /* detections */                                    \
  X(int64_t, T, 0)                 /* ground-truth boxes */                            \
  X(int64_t, C, 0)                 /* classes */                                       \
  X(int64_t, K, 0)                 /* IoU thresholds */                                \
  VR_BOX_KIND_ARGS(X)                                                                  \
  X(int, interpolation, 0)         /* 0 coco101, 1 voc11, 2 area */                    \
  X(std::uintptr_t, pred, 0)       /* [D, width] */                                    \
  X(std::uintptr_t, scores, 0)     /* double [D] */                                    \
  X(std::uintptr_t, pred_labels, 0) /* int64 [D] in [0, C) */                          \
  X(std::uintptr_t, pred_image, 0) /* int64 [D] >= 0 */                                \
  X(std::uintptr_t, gt, 0)         /* [T, width] */                                    \
  X(std::uintptr_t, gt_labels, 0)  /* int64 [T] in [0, C) */                           \
  X(std::uintptr_t, gt_image, 0)   /* int64 [T] >= 0 */                                \
  X(std::uintptr_t, thresholds, 0) /* double [K] in (0, 1] */                          \
  X(std::uintptr_t, ap, 0)         /* double [C, K] out */
struct DetectionArgs { VR_DETECTION_ARGS(VR_ARG_MEMBER) };

void detection_ap_cpu(const DetectionArgs& p);

}  // namespace vr
