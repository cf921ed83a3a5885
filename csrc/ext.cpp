// verireward._C: the module entry. Each op's binding lives beside its code
// (csrc/<op>/<op>_bind.cpp, declared in common/bind.h); this file adds the build facts, the dtype
// and device types, and calls them.
#include "common/bind.h"
#include "common/cpu_features.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace vr;

namespace {

py::dict build_info() {
  py::dict d;
  d["version"] = VR_VERSION;
  d["cuda"] = built_with_cuda();
#ifdef VR_WITH_CUDA
  d["cuda_version"] = VR_CUDA_VERSION;
  d["cuda_architectures"] = VR_CUDA_ARCHS;
#else
  d["cuda_version"] = py::none();
  d["cuda_architectures"] = py::none();
#endif
#ifdef _OPENMP
  d["openmp"] = true;
  d["cpu_threads"] = omp_get_max_threads();
#else
  d["openmp"] = false;
  d["cpu_threads"] = 1;
#endif
  d["compiler"] = __VERSION__;
  d["cpu_path"] = cpu_path_name();
  return d;
}

// Sets the OpenMP threads of the calling thread's later calls (k >= 1); returns the previous
// count. For benchmarks that report a one-thread ratio beside the default one (the peers they are
// compared with run on one core); without OpenMP everything runs on one thread and k is ignored.
int set_cpu_threads(int k) {
  require(k >= 1, "set_cpu_threads", "k must be >= 1");
#ifdef _OPENMP
  const int before = omp_get_max_threads();
  omp_set_num_threads(k);
  return before;
#else
  return 1;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "verireward compiled kernels (private; use the verireward package)";
  m.def("build_info", &build_info);
  m.def("cuda_device_count", &cuda_device_count);
  m.def("cuda_runtime_error", &cuda_runtime_error);
  m.def("set_cpu_path", &set_cpu_path, "auto | avx2 | sse2 | scalar (for tests and benchmarks)");
  m.def("cpu_path", &cpu_path_name);
  m.def("set_cpu_threads", &set_cpu_threads, "OpenMP threads of this thread's later calls; returns the previous count");

  py::enum_<DType>(m, "DType").value("float32", DType::Float32).value("float64", DType::Float64);

  VR_BIND_ARGS(m, Device, VR_DEVICE_FIELDS);

  bind_box_iou(m);
  bind_project_box(m);
  bind_containment(m);
  bind_grpo(m);
  bind_points(m);
  bind_parse(m);
  bind_tokens(m);
  bind_pipeline(m);
  bind_oriented(m);
  bind_match(m);
  bind_detection(m);
}
