// The Python binding of oriented/oriented.h (verireward._C): argument classes and checked entry points.
#include <cmath>

#include "common/bind.h"
#include "oriented/oriented_grad.h"

namespace vr {

namespace {
void check_oriented(const char* op, const OrientedArgs& p) {
  require(p.kind >= 0 && p.kind <= 2, op, "kind must be 0 (rotated 2D), 1 (yaw-only 3D) or 2 (oriented 3D)");
  require(p.axis >= 0 && p.axis <= 2, op, "axis must be 0, 1 or 2");
  require(p.k >= 0 && p.k <= 3, op, "k must be 0 to 3 axes");
  for (int a : {p.axis0, p.axis1, p.axis2}) require(a >= 0 && a <= 2, op, "axes must be 0, 1 or 2");
  const int64_t width = p.kind == 0 ? 5 : p.kind == 1 ? 7 : 6 + p.k;
  require_stride(op, p.a_stride, width, "a_stride must be 0 or the box width");
  require_stride(op, p.b_stride, width, "b_stride must be 0 or the box width");
  require(std::isfinite(p.unit) && p.unit > 0.0, op, "unit must be finite and > 0");
}
}  // namespace

void bind_oriented(py::module_& m) {
  VR_BIND_ARGS(m, OrientedArgs, VR_ORIENTED_ARGS);
  VR_BIND_ARGS(m, EulerArgs, VR_EULER_ARGS);
  m.def("oriented_iou", [](const OrientedArgs& p) {
    check_oriented("oriented_iou", p);
    require_ptrs("oriented_iou", elements("oriented_iou", {p.n, 9}), {p.a, p.b, p.out});
    VR_DEVICE_DISPATCH(p.device, oriented_iou, p);
  }, nogil());
  m.def("oriented_iou_backward", [](const OrientedArgs& p) {
    check_oriented("oriented_iou_backward", p);
    const int64_t width = p.kind == 0 ? 5 : p.kind == 1 ? 7 : 6 + p.k;
    require_ptrs("oriented_iou_backward", elements("oriented_iou_backward", {p.n, width}),
                 {p.a, p.b, p.grad_out, p.grad_a, p.grad_b});
    VR_DEVICE_DISPATCH(p.device, oriented_iou_backward, p);
  }, nogil());
  m.def("oriented_iou_pairwise", [](const OrientedArgs& p) {
    check_oriented("oriented_iou_pairwise", p);
    require(p.a_stride == (p.kind == 0 ? 5 : p.kind == 1 ? 7 : 6 + p.k) && p.b_stride == p.a_stride, "oriented_iou_pairwise",
            "pairwise rows are dense: strides must be the box width");
    elements("oriented_iou_pairwise", {p.n, 9});
    elements("oriented_iou_pairwise", {p.m, 9});
    require_ptrs("oriented_iou_pairwise", elements("oriented_iou_pairwise", {p.n, p.m}), {p.a, p.b, p.out});
    VR_DEVICE_DISPATCH(p.device, oriented_iou_pairwise, p);
  }, nogil());
  m.def("euler_rows", [](const EulerArgs& p) {
    const char* op = "euler_rows";
    require(p.k >= 0 && p.k <= 3, op, "k must be 0 to 3 axes");
    for (int a : {p.axis0, p.axis1, p.axis2}) require(a >= 0 && a <= 2, op, "axes must be 0, 1 or 2");
    require(std::isfinite(p.unit) && p.unit > 0.0, op, "unit must be finite and > 0");
    require(!p.aabb || (p.k == 0 && p.boxes != 0), op, "aabb corners take [n, 6] boxes and no angles");
    const int64_t rows = elements(op, {p.n, 24});
    require_ptrs(op, rows, {p.out});
    require(rows == 0 || p.boxes != 0 || p.k == 0 || p.angles != 0, op, "null data pointer");
    VR_DEVICE_DISPATCH(p.device, euler_rows, p);
  }, nogil());
}

}  // namespace vr
