// The Python binding of match/match.h (verireward._C): its argument class and checked entry point.
#include <cmath>

#include "common/bind.h"
#include "match/match.h"

namespace vr {

void bind_match(py::module_& m) {
  VR_BIND_ARGS(m, MatchArgs, VR_MATCH_ARGS);
  m.def("match_boxes", [](const MatchArgs& p) {
    const char* op = "match_boxes";
    require(p.kind >= 0 && p.kind <= 3, op, "kind must be 0 to 3");
    require(p.k >= 0 && p.k <= 3 && p.axis0 >= 0 && p.axis0 <= 2 && p.axis1 >= 0 && p.axis1 <= 2 && p.axis2 >= 0 &&
            p.axis2 <= 2, op, "bad rotation sequence");
    require(std::isfinite(p.unit) && p.unit > 0.0, op, "unit must be finite and > 0");
    const int64_t want = p.kind == 0 ? 4 : p.kind == 1 ? 6 : p.kind == 2 ? 5 : 6 + p.k;
    require(p.width == want, op, "width does not fit the box kind");
    require(p.P <= (int64_t{1} << 16) && p.G <= (int64_t{1} << 16), op, "at most 65536 boxes per sample");
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
