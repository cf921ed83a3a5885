// The Python binding of box_iou/box_iou.h (verireward._C): argument classes and checked entry points.
#include "common/bind.h"
#include "box_iou/box_iou.h"

namespace vr {

void bind_box_iou(py::module_& m) {
  VR_BIND_ARGS(m, IouArgs, VR_IOU_ARGS);
  m.def("iou_elementwise", [](const IouArgs& p) {
    require(p.dim == 2 || p.dim == 3, "iou_elementwise", "dim must be 2 or 3");
    require_stride("iou_elementwise", p.a_stride, 2 * p.dim, "a_stride must be 0 or 2 * dim");
    require_stride("iou_elementwise", p.b_stride, 2 * p.dim, "b_stride must be 0 or 2 * dim");
    require_ptrs("iou_elementwise", elements("iou_elementwise", {p.n, 2 * p.dim}), {p.a, p.b, p.out});
    VR_DEVICE_DISPATCH(p.device, iou_elementwise, p);
  }, nogil());
  m.def("iou_elementwise_backward", [](const IouArgs& p) {
    require(p.dim == 2 || p.dim == 3, "iou_elementwise_backward", "dim must be 2 or 3");
    require_stride("iou_elementwise_backward", p.a_stride, 2 * p.dim, "a_stride must be 0 or 2 * dim");
    require_stride("iou_elementwise_backward", p.b_stride, 2 * p.dim, "b_stride must be 0 or 2 * dim");
    require_ptrs("iou_elementwise_backward", elements("iou_elementwise_backward", {p.n, 2 * p.dim}),
                 {p.a, p.b, p.grad_out, p.grad_a, p.grad_b});
    VR_DEVICE_DISPATCH(p.device, iou_elementwise_backward, p);
  }, nogil());
  m.def("iou_pairwise", [](const IouArgs& p) {
    require(p.dim == 2 || p.dim == 3, "iou_pairwise", "dim must be 2 or 3");
    elements("iou_pairwise", {p.n, 2 * p.dim});
    elements("iou_pairwise", {p.m, 2 * p.dim});
    require_ptrs("iou_pairwise", elements("iou_pairwise", {p.n, p.m}), {p.a, p.b, p.out});
    VR_DEVICE_DISPATCH(p.device, iou_pairwise, p);
  }, nogil());
}

}  // namespace vr
