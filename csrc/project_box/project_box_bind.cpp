// The Python binding of project_box/project_box.h (verireward._C): argument classes and checked entry points.
#include <cmath>

#include "common/bind.h"
#include "project_box/project_box.h"

namespace vr {

void bind_project_box(py::module_& m) {
  VR_BIND_ARGS(m, ProjectArgs, VR_PROJECT_ARGS);
  const auto camera_checks = [](const char* op, const ProjectArgs& p) {
    elements(op, {p.n, 9});
    require_stride(op, p.K_stride, 9, "K_stride must be 0 or 9");
    require_stride(op, p.R_stride, 9, "R_stride must be 0 or 9");
    require_stride(op, p.t_stride, 3, "t_stride must be 0 or 3");
    require_stride(op, p.img_stride, 2, "img_stride must be 0 or 2");
    require(p.near > 0.0 && std::isfinite(p.near), op, "near must be finite and > 0");
    const char* why = "";
    require(rotation_ok(p, &why), op, why);
  };
  m.def("project_box", [camera_checks](const ProjectArgs& p) {
    camera_checks("project_box", p);
    require_ptrs("project_box", p.n, {p.boxes3d, p.K, p.R, p.t, p.out, p.valid});
    VR_DEVICE_DISPATCH(p.device, project_box, p);
  }, nogil());
  m.def("rpc", [camera_checks](const ProjectArgs& p) {
    camera_checks("rpc", p);
    require_stride("rpc", p.boxes2d_stride, 4, "boxes2d_stride must be 0 or 4");
    require_ptrs("rpc", p.n, {p.boxes2d, p.boxes3d, p.K, p.R, p.t, p.out});
    VR_DEVICE_DISPATCH(p.device, rpc, p);
  }, nogil());
}

}  // namespace vr
