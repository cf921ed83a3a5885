// The Python binding of containment/containment.h (verireward._C): argument classes and checked entry points.
#include <cmath>

#include "common/bind.h"
#include "containment/containment.h"

namespace vr {

void bind_containment(py::module_& m) {
  VR_BIND_ARGS(m, ContainmentArgs, VR_CONTAINMENT_ARGS);
  m.def("keypoint_containment", [](const ContainmentArgs& p) {
    require(p.dim == 2 || p.dim == 3, "keypoint_containment", "dim must be 2 or 3");
    const char* why = "";
    require(rotation_ok(p, &why), "keypoint_containment", why);
    require_stride("keypoint_containment", p.box_stride, !p.oriented ? 2 * p.dim : p.dim == 3 ? 6 + p.k : 5,
                   "box_stride must be 0 or the box width");
    const int64_t points = elements("keypoint_containment", {p.n, p.K, p.dim});
    require_ptrs("keypoint_containment", p.n, {p.counts, p.boxes, p.out});
    require(points == 0 || p.points != 0, "keypoint_containment", "null points pointer");
    VR_DEVICE_DISPATCH(p.device, keypoint_containment, p);
  }, nogil());
}

}  // namespace vr
