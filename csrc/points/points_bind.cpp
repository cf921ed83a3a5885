// The Python binding of points/points.h (verireward._C): argument classes and checked entry points.
#include "common/bind.h"
#include "points/points.h"

namespace vr {

void bind_points(py::module_& m) {
  VR_BIND_ARGS(m, PointArgs, VR_POINT_ARGS);
  m.def("farthest_point_sampling", [](const PointArgs& p) {
    // each array's pointer is required when the array has elements, whatever the others hold
    const int64_t points = elements("farthest_point_sampling", {p.B, 3, p.P});
    const int64_t picks = elements("farthest_point_sampling", {p.B, p.G});
    require(picks == 0 || (p.P >= 1 && p.G <= p.P), "farthest_point_sampling", "needs P >= 1 and G <= P");
    require_ptrs("farthest_point_sampling", points, {p.xyz});
    require_ptrs("farthest_point_sampling", elements("farthest_point_sampling", {p.B, p.P}), {p.mind});
    require_ptrs("farthest_point_sampling", picks, {p.centres});
    VR_DEVICE_DISPATCH(p.device, farthest_point_sampling, p);
  }, nogil());
  m.def("knn", [](const PointArgs& p) {
    const int64_t points = elements("knn", {p.B, 3, p.P});
    const int64_t centres = elements("knn", {p.B, p.G});
    const int64_t total = elements("knn", {p.B, p.G, p.K});
    require(p.K <= p.P && (centres == 0 || p.K >= 1), "knn", "needs 1 <= K <= P");
    require_ptrs("knn", points, {p.xyz});
    require_ptrs("knn", centres, {p.centres});
    require_ptrs("knn", total, {p.dist, p.idx});
    VR_DEVICE_DISPATCH(p.device, knn, p);
  }, nogil());
}

}  // namespace vr
