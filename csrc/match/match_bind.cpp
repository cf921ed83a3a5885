// The Python binding of match/match.h (verireward._C): its argument class and checked entry point.
#include "common/bind.h"
#include "match/match.h"

namespace vr {

void bind_match(py::module_& m) {
  VR_BIND_ARGS(m, MatchArgs, VR_MATCH_ARGS);
  m.attr("MATCH_MAX_BOXES") = kMatchMaxBoxes;
  m.def("match_boxes", [](const MatchArgs& p) {
    const char* op = "match_boxes";
    const char* why = "";
    require(box_kind_ok(p, &why), op, why);
    require(p.P <= kMatchMaxBoxes && p.G <= kMatchMaxBoxes, op, "at most MATCH_MAX_BOXES boxes per sample");
    elements(op, {p.n, p.P, p.width});
    elements(op, {p.n, p.G, p.width});
    require_ptrs(op, p.n, {p.pred_counts, p.gt_counts});
    require_ptrs(op, elements(op, {p.n, p.P}), {p.pred, p.assignment, p.iou});
    require(elements(op, {p.n, p.G}) == 0 || p.gt != 0, op, "null data pointer");
    require((p.pred_labels == 0) == (p.gt_labels == 0), op, "labels for both sides or neither");
    match_boxes_cpu(p);
  }, nogil());
}

}  // namespace vr
