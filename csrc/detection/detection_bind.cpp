// The Python binding of detection/detection.h (verireward._C): its argument class and checked entry point.
#include "common/bind.h"
#include "detection/detection.h"

namespace vr {

void bind_detection(py::module_& m) {
  VR_BIND_ARGS(m, DetectionArgs, VR_DETECTION_ARGS);
  m.def("detection_ap", [](const DetectionArgs& p) {
    const char* op = "detection_map";
    const char* why = "";
    require(box_kind_ok(p, &why), op, why);
    require(p.interpolation >= 0 && p.interpolation <= 2, op, "interpolation must be 0 to 2");
    require(p.D >= 0 && p.T >= 0 && p.C >= 0 && p.K >= 1, op, "bad sizes");
    elements(op, {p.D, p.width});
    elements(op, {p.T, p.width});
    require_ptrs(op, p.D, {p.pred, p.scores, p.pred_labels, p.pred_image});
    require_ptrs(op, p.T, {p.gt, p.gt_labels, p.gt_image});
    require_ptrs(op, elements(op, {p.C, p.K}), {p.ap});
    require(p.thresholds != 0, op, "null data pointer");
    const int64_t* pl = ptr<int64_t>(p.pred_labels);
    const int64_t* gl = ptr<int64_t>(p.gt_labels);
    const int64_t* pi = ptr<int64_t>(p.pred_image);
    const int64_t* gi = ptr<int64_t>(p.gt_image);
    for (int64_t i = 0; i < p.D; ++i) require(pl[i] >= 0 && pl[i] < p.C && pi[i] >= 0, op, "label or image out of range");
    for (int64_t i = 0; i < p.T; ++i) require(gl[i] >= 0 && gl[i] < p.C && gi[i] >= 0, op, "label or image out of range");
    const double* t = ptr<double>(p.thresholds);
    for (int64_t k = 0; k < p.K; ++k) require(t[k] > 0.0 && t[k] <= 1.0, op, "thresholds must be in (0, 1]");
    detection_ap_cpu(p);
  }, nogil());
}

}  // namespace vr
