// verireward._C: the only binding file. Each op takes one argument struct of validated raw
// pointers (see common/abi.h); the GIL is released while a kernel runs.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "box_iou/box_iou.h"
#include "common/abi.h"
#include "common/cpu_features.h"
#include "common/runtime.h"
#include "containment/containment.h"
#include "grpo/grpo.h"
#include "parse/parse.h"
#include "pipeline/pipeline.h"
#include "points/points.h"
#include "project_box/project_box.h"
#include "tokens/token_offsets.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;
using namespace vr;

namespace {

// Last line of defence: the Python layer validates everything, but a direct call into _C with a
// null pointer or a negative size must raise rather than crash.
void require(bool ok, const char* op, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("verireward._C.") + op + ": " + what);
}
void require_ptrs(const char* op, int64_t n, std::initializer_list<std::uintptr_t> ptrs) {
  require(n >= 0, op, "negative size");
  if (n == 0) return;
  for (auto p : ptrs) require(p != 0, op, "null data pointer");
}
// The number of elements of an array with these dimensions: each must be >= 0 and the product
// must not pass 2^62 (so that no index expression in a kernel, n * stride + k, overflows int64).
int64_t elements(const char* op, std::initializer_list<int64_t> dims) {
  constexpr int64_t kMax = int64_t{1} << 62;
  int64_t total = 1;
  for (int64_t d : dims) require(d >= 0, op, "negative size");
  for (int64_t d : dims) {
    if (d == 0) return 0;
    require(total <= kMax / d, op, "sizes whose product overflows 64-bit indexing");
    total *= d;
  }
  return total;
}
void require_stride(const char* op, int64_t stride, int64_t row, const char* what) {
  require(stride == 0 || stride == row, op, what);
}

// The FieldSpecs of a parse over n texts: kinds, dimensions, value counts and pointers.
void check_field_specs(const char* op, const std::vector<FieldSpec>& fields, int64_t n) {
  for (const auto& f : fields) {
    require(f.kind >= 0 && f.kind <= 2 && (f.kind == 0 || f.dim >= 1), op, "bad field kind or dim");
    if (f.kind == 0) continue;
    require(f.dim >= 1 && f.dim <= 3, op, "dim must be 1, 2 or 3");
    require(f.max_values == (f.kind == 1 ? 2 * f.dim : f.max_values) && f.max_values >= f.dim &&
            f.max_values <= (int64_t{1} << 24), op, "max_values does not fit the field's kind");
    require(f.bins >= 1, op, "bins must be >= 1");
    elements(op, {n, f.max_values});
    require(static_cast<int>(f.scale.size()) == f.dim && static_cast<int>(f.offset.size()) == f.dim, op,
            "scale and offset need one entry per axis");
    require(n == 0 || (f.values != 0 && (f.kind != 2 || f.counts != 0)), op, "null data pointer");
  }
}

// Views of a list of bytes or str objects (kept alive by the caller, who holds the GIL while collecting).
std::vector<std::string_view> bytes_views(const py::list& items, const char* what) {
  std::vector<std::string_view> views;
  views.reserve(items.size());
  for (const py::handle t : items) {
    char* buf = nullptr;
    Py_ssize_t len = 0;
    if (PyUnicode_Check(t.ptr())) {
      // a str's UTF-8 without a copy (CPython keeps it; for ASCII it is the str's own data). A str
      // with lone surrogates has none: the caller encodes it with surrogatepass and passes bytes.
      const char* u = PyUnicode_AsUTF8AndSize(t.ptr(), &len);
      if (u == nullptr) throw py::error_already_set();
      views.emplace_back(u, static_cast<size_t>(len));
      continue;
    }
    if (!PyBytes_Check(t.ptr()) || PyBytes_AsStringAndSize(t.ptr(), &buf, &len) != 0)
      throw std::invalid_argument(std::string("verireward._C.") + what);
    views.emplace_back(buf, static_cast<size_t>(len));
  }
  return views;
}

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

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "verireward compiled kernels (private; use the verireward package)";
  m.def("build_info", &build_info);
  m.def("cuda_device_count", &cuda_device_count);
  m.def("cuda_runtime_error", &cuda_runtime_error);
  m.def("set_cpu_path", &set_cpu_path, "auto | avx2 | sse2 | scalar (for tests and benchmarks)");
  m.def("cpu_path", &cpu_path_name);

  py::enum_<DType>(m, "DType").value("float32", DType::Float32).value("float64", DType::Float64);

  py::class_<Device>(m, "Device")
      .def(py::init<>())
      .def_readwrite("type", &Device::type)
      .def_readwrite("index", &Device::index)
      .def_readwrite("stream", &Device::stream);

  py::class_<IouArgs>(m, "IouArgs")
      .def(py::init<>())
      .def_readwrite("dim", &IouArgs::dim)
      .def_readwrite("dtype", &IouArgs::dtype)
      .def_readwrite("device", &IouArgs::device)
      .def_readwrite("n", &IouArgs::n)
      .def_readwrite("m", &IouArgs::m)
      .def_readwrite("a", &IouArgs::a)
      .def_readwrite("b", &IouArgs::b)
      .def_readwrite("out", &IouArgs::out)
      .def_readwrite("a_stride", &IouArgs::a_stride)
      .def_readwrite("b_stride", &IouArgs::b_stride)
      .def_readwrite("grad_out", &IouArgs::grad_out)
      .def_readwrite("grad_a", &IouArgs::grad_a)
      .def_readwrite("grad_b", &IouArgs::grad_b);

  py::class_<ProjectArgs>(m, "ProjectArgs")
      .def(py::init<>())
      .def_readwrite("dtype", &ProjectArgs::dtype)
      .def_readwrite("device", &ProjectArgs::device)
      .def_readwrite("n", &ProjectArgs::n)
      .def_readwrite("boxes3d", &ProjectArgs::boxes3d)
      .def_readwrite("boxes2d", &ProjectArgs::boxes2d)
      .def_readwrite("boxes2d_stride", &ProjectArgs::boxes2d_stride)
      .def_readwrite("K", &ProjectArgs::K)
      .def_readwrite("R", &ProjectArgs::R)
      .def_readwrite("t", &ProjectArgs::t)
      .def_readwrite("img", &ProjectArgs::img)
      .def_readwrite("K_stride", &ProjectArgs::K_stride)
      .def_readwrite("R_stride", &ProjectArgs::R_stride)
      .def_readwrite("t_stride", &ProjectArgs::t_stride)
      .def_readwrite("img_stride", &ProjectArgs::img_stride)
      .def_readwrite("near", &ProjectArgs::near)
      .def_readwrite("out", &ProjectArgs::out)
      .def_readwrite("valid", &ProjectArgs::valid);

  py::class_<ContainmentArgs>(m, "ContainmentArgs")
      .def(py::init<>())
      .def_readwrite("dim", &ContainmentArgs::dim)
      .def_readwrite("dtype", &ContainmentArgs::dtype)
      .def_readwrite("device", &ContainmentArgs::device)
      .def_readwrite("n", &ContainmentArgs::n)
      .def_readwrite("K", &ContainmentArgs::K)
      .def_readwrite("points", &ContainmentArgs::points)
      .def_readwrite("counts", &ContainmentArgs::counts)
      .def_readwrite("boxes", &ContainmentArgs::boxes)
      .def_readwrite("out", &ContainmentArgs::out)
      .def_readwrite("box_stride", &ContainmentArgs::box_stride);

  py::class_<StdSettings>(m, "StdSettings")
      .def(py::init<>())
      .def_readwrite("eps", &StdSettings::eps)
      .def_readwrite("std_floor", &StdSettings::std_floor)
      .def_readwrite("unbiased", &StdSettings::unbiased)
      .def_readwrite("singleton_identity", &StdSettings::singleton_identity)
      .def_readwrite("singleton_div", &StdSettings::singleton_div)
      .def_readwrite("given", &StdSettings::given)
      .def_readwrite("skip_nan", &StdSettings::skip_nan)
      .def_readwrite("scale", &StdSettings::scale);
  m.attr("GROUP_STATS_BYTES") = sizeof(GroupStats);

  py::class_<GroupArgs>(m, "GroupArgs")
      .def(py::init<>())
      .def_readwrite("dtype", &GroupArgs::dtype)
      .def_readwrite("device", &GroupArgs::device)
      .def_readwrite("n", &GroupArgs::n)
      .def_readwrite("F", &GroupArgs::F)
      .def_readwrite("num_groups", &GroupArgs::num_groups)
      .def_readwrite("rewards", &GroupArgs::rewards)
      .def_readwrite("group_ptr", &GroupArgs::group_ptr)
      .def_readwrite("out", &GroupArgs::out)
      .def_readwrite("st", &GroupArgs::st)
      .def_readwrite("absolute", &GroupArgs::absolute)
      .def_readwrite("alpha", &GroupArgs::alpha)
      .def_readwrite("clip", &GroupArgs::clip)
      .def_readwrite("batch_stats", &GroupArgs::batch_stats);

  py::class_<RouteArgs>(m, "RouteArgs")
      .def(py::init<>())
      .def_readwrite("dtype", &RouteArgs::dtype)
      .def_readwrite("device", &RouteArgs::device)
      .def_readwrite("n", &RouteArgs::n)
      .def_readwrite("F", &RouteArgs::F)
      .def_readwrite("L", &RouteArgs::L)
      .def_readwrite("num_groups", &RouteArgs::num_groups)
      .def_readwrite("rewards", &RouteArgs::rewards)
      .def_readwrite("rpc", &RouteArgs::rpc)
      .def_readwrite("spans", &RouteArgs::spans)
      .def_readwrite("mask", &RouteArgs::mask)
      .def_readwrite("group_ptr", &RouteArgs::group_ptr)
      .def_readwrite("out", &RouteArgs::out)
      .def_readwrite("lam", &RouteArgs::lam)
      .def_readwrite("broadcast", &RouteArgs::broadcast)
      .def_readwrite("st", &RouteArgs::st);

  py::class_<SpanArgs>(m, "SpanArgs")
      .def(py::init<>())
      .def_readwrite("device", &SpanArgs::device)
      .def_readwrite("n", &SpanArgs::n)
      .def_readwrite("F", &SpanArgs::F)
      .def_readwrite("L", &SpanArgs::L)
      .def_readwrite("char_spans", &SpanArgs::char_spans)
      .def_readwrite("offsets", &SpanArgs::offsets)
      .def_readwrite("lengths", &SpanArgs::lengths)
      .def_readwrite("out", &SpanArgs::out);

  py::class_<PointArgs>(m, "PointArgs")
      .def(py::init<>())
      .def_readwrite("device", &PointArgs::device)
      .def_readwrite("B", &PointArgs::B)
      .def_readwrite("P", &PointArgs::P)
      .def_readwrite("G", &PointArgs::G)
      .def_readwrite("K", &PointArgs::K)
      .def_readwrite("xyz", &PointArgs::xyz)
      .def_readwrite("mind", &PointArgs::mind)
      .def_readwrite("centres", &PointArgs::centres)
      .def_readwrite("dist", &PointArgs::dist)
      .def_readwrite("idx", &PointArgs::idx);

  py::class_<FieldSpec>(m, "FieldSpec")
      .def(py::init<>())
      .def_readwrite("kind", &FieldSpec::kind)
      .def_readwrite("dim", &FieldSpec::dim)
      .def_readwrite("max_values", &FieldSpec::max_values)
      .def_readwrite("quantized", &FieldSpec::quantized)
      .def_readwrite("bins", &FieldSpec::bins)
      .def_readwrite("keys", &FieldSpec::keys)
      .def_readwrite("scale", &FieldSpec::scale)
      .def_readwrite("offset", &FieldSpec::offset)
      .def_readwrite("values", &FieldSpec::values)
      .def_readwrite("counts", &FieldSpec::counts);

  // texts: a list of UTF-8 bytes objects (kept alive by the caller); outputs allocated by Python.
  // texts: a list of UTF-8 bytes objects (kept alive by the caller); outputs allocated by Python.
  m.def("parse_texts", [](const py::list& texts, const std::vector<FieldSpec>& fields, std::uintptr_t valid,
                          std::uintptr_t spans) {
    const std::vector<std::string_view> views = bytes_views(texts, "parse_texts: texts must be str or bytes");
    const bool rows = !views.empty();
    require(!rows || fields.empty() || (valid && spans), "parse_texts", "null data pointer");
    check_field_specs("parse_texts", fields, static_cast<int64_t>(views.size()));
    ParseOutputs out{ptr<uint8_t>(valid), ptr<int64_t>(spans)};
    py::gil_scoped_release release;
    parse_texts(views, fields, out);
  });

  // The GRCA CPU stage in one call (pipeline/pipeline.h): texts as UTF-8 bytes (kept alive by the
  // caller), the schema's FieldSpecs, and the piece table (blob = 0: none).
  m.def("grca_cpu_stage", [](const py::list& texts, const std::vector<FieldSpec>& fields, std::uintptr_t valid,
                             std::uintptr_t spans, std::uintptr_t blob, std::uintptr_t offsets, int64_t vocab,
                             std::uintptr_t ids, std::uintptr_t mask, int64_t L, std::uintptr_t out,
                             std::uintptr_t ok, std::uintptr_t token_spans) {
    const char* op = "grca_cpu_stage";
    const std::vector<std::string_view> views = bytes_views(texts, "grca_cpu_stage: texts must be str or bytes");
    const int64_t n = static_cast<int64_t>(views.size());
    const int64_t F = static_cast<int64_t>(fields.size());
    require(vocab >= 0, op, "negative size");
    elements(op, {n, L + 1});
    require(L >= 0, op, "negative size");
    elements(op, {n, F, 2});
    elements(op, {2 * vocab + 1});
    check_field_specs(op, fields, n);
    require(n == 0 || (out != 0 && ok != 0 && (F == 0 || (valid != 0 && spans != 0 && token_spans != 0))), op,
            "null data pointer");
    require(n * L == 0 || (ids != 0 && mask != 0), op, "null data pointer");
    require(blob == 0 || offsets != 0, op, "null data pointer");
    ParseOutputs parsed{ptr<uint8_t>(valid), ptr<int64_t>(spans)};
    PieceTable table{ptr<const uint8_t>(blob), ptr<const int64_t>(offsets), vocab};
    TokenRows rows{ptr<const int64_t>(ids), ptr<const uint8_t>(mask), n, L, ptr<int64_t>(out), ptr<uint8_t>(ok)};
    PipelineRows result{ptr<int64_t>(token_spans)};
    py::gil_scoped_release release;
    grca_cpu_stage(views, fields, parsed, table, rows, result);
  });

  // full: a list of UTF-8 bytes objects (each row's full decode), kept alive by the caller.
  m.def("token_offsets_from_pieces", [](std::uintptr_t blob, std::uintptr_t offsets, int64_t vocab,
                                        std::uintptr_t ids, std::uintptr_t mask, int64_t n, int64_t L,
                                        const py::list& full, std::uintptr_t out, std::uintptr_t ok) {
    require(vocab >= 0, "token_offsets_from_pieces", "negative size");
    elements("token_offsets_from_pieces", {n, L + 1});
    require(L >= 0, "token_offsets_from_pieces", "negative size");
    elements("token_offsets_from_pieces", {2 * vocab + 1});
    require(static_cast<int64_t>(full.size()) == n, "token_offsets_from_pieces", "full must hold one text per row");
    require(blob != 0 && offsets != 0 && (n == 0 || (out != 0 && ok != 0)) && (n * L == 0 || (ids != 0 && mask != 0)),
            "token_offsets_from_pieces", "null data pointer");
    const std::vector<std::string_view> views = bytes_views(full, "token_offsets_from_pieces: full must be str or bytes");
    PieceTable table{ptr<const uint8_t>(blob), ptr<const int64_t>(offsets), vocab};
    TokenRows rows{ptr<const int64_t>(ids), ptr<const uint8_t>(mask), n, L, ptr<int64_t>(out), ptr<uint8_t>(ok)};
    py::gil_scoped_release release;
    token_offsets_from_pieces(table, rows, views);
  });

  const auto nogil = py::call_guard<py::gil_scoped_release>();
  m.def("iou_elementwise", [](const IouArgs& p) {
    require(p.dim == 2 || p.dim == 3, "iou_elementwise", "dim must be 2 or 3");
    require_stride("iou_elementwise", p.a_stride, 2 * p.dim, "a_stride must be 0 or 2 * dim");
    require_stride("iou_elementwise", p.b_stride, 2 * p.dim, "b_stride must be 0 or 2 * dim");
    require_ptrs("iou_elementwise", elements("iou_elementwise", {p.n, 2 * p.dim}), {p.a, p.b, p.out});
    VR_DEVICE_DISPATCH(p.device, iou_elementwise, p);
  }, nogil);
  m.def("iou_elementwise_backward", [](const IouArgs& p) {
    require(p.dim == 2 || p.dim == 3, "iou_elementwise_backward", "dim must be 2 or 3");
    require_stride("iou_elementwise_backward", p.a_stride, 2 * p.dim, "a_stride must be 0 or 2 * dim");
    require_stride("iou_elementwise_backward", p.b_stride, 2 * p.dim, "b_stride must be 0 or 2 * dim");
    require_ptrs("iou_elementwise_backward", elements("iou_elementwise_backward", {p.n, 2 * p.dim}),
                 {p.a, p.b, p.grad_out, p.grad_a, p.grad_b});
    VR_DEVICE_DISPATCH(p.device, iou_elementwise_backward, p);
  }, nogil);
  m.def("iou_pairwise", [](const IouArgs& p) {
    require(p.dim == 2 || p.dim == 3, "iou_pairwise", "dim must be 2 or 3");
    elements("iou_pairwise", {p.n, 2 * p.dim});
    elements("iou_pairwise", {p.m, 2 * p.dim});
    require_ptrs("iou_pairwise", elements("iou_pairwise", {p.n, p.m}), {p.a, p.b, p.out});
    VR_DEVICE_DISPATCH(p.device, iou_pairwise, p);
  }, nogil);
  const auto camera_checks = [](const char* op, const ProjectArgs& p) {
    elements(op, {p.n, 9});
    require_stride(op, p.K_stride, 9, "K_stride must be 0 or 9");
    require_stride(op, p.R_stride, 9, "R_stride must be 0 or 9");
    require_stride(op, p.t_stride, 3, "t_stride must be 0 or 3");
    require_stride(op, p.img_stride, 2, "img_stride must be 0 or 2");
    require(p.near > 0.0 && std::isfinite(p.near), op, "near must be finite and > 0");
  };
  m.def("project_box", [camera_checks](const ProjectArgs& p) {
    camera_checks("project_box", p);
    require_ptrs("project_box", p.n, {p.boxes3d, p.K, p.R, p.t, p.out, p.valid});
    VR_DEVICE_DISPATCH(p.device, project_box, p);
  }, nogil);
  m.def("rpc", [camera_checks](const ProjectArgs& p) {
    camera_checks("rpc", p);
    require_stride("rpc", p.boxes2d_stride, 4, "boxes2d_stride must be 0 or 4");
    require_ptrs("rpc", p.n, {p.boxes2d, p.boxes3d, p.K, p.R, p.t, p.out});
    VR_DEVICE_DISPATCH(p.device, rpc, p);
  }, nogil);
  m.def("group_standardize", [](const GroupArgs& p) {
    const int64_t total = elements("group_standardize", {p.n, p.F});
    elements("group_standardize", {p.num_groups + 1, p.F});
    require(total == 0 || p.num_groups >= 1, "group_standardize", "no group");
    require_ptrs("group_standardize", total, {p.rewards, p.group_ptr, p.out});
    require(p.st.scale >= kScaleGroup && p.st.scale <= kScaleNone, "group_standardize", "unknown scale");
    require(p.st.scale != kScaleBatch || total == 0 || p.batch_stats != 0, "group_standardize",
            "the batch scale needs batch_stats");
    VR_DEVICE_DISPATCH(p.device, group_standardize, p);
  }, nogil);
  m.def("routed_advantages", [](const RouteArgs& p) {
    require(p.F >= 1, "routed_advantages", "needs F >= 1");
    const int64_t tokens = elements("routed_advantages", {p.n, p.L});
    elements("routed_advantages", {p.n, p.F, 2});
    elements("routed_advantages", {p.num_groups + 1});
    require(tokens == 0 || p.num_groups >= 1, "routed_advantages", "no group");
    require(p.st.scale == kScaleGroup || p.st.scale == kScaleNone || p.st.given, "routed_advantages",
            "scale must be group or none (the batch scale routes given advantages)");
    require_ptrs("routed_advantages", tokens, {p.rewards, p.spans, p.mask, p.group_ptr, p.out});
    VR_DEVICE_DISPATCH(p.device, routed_advantages, p);
  }, nogil);
  m.def("char_to_token_spans", [](const SpanArgs& p) {
    const int64_t rows = elements("char_to_token_spans", {p.n, p.L + 1});
    const int64_t fields = elements("char_to_token_spans", {p.n, p.F, 2});
    require(p.L >= 0, "char_to_token_spans", "negative size");
    require_ptrs("char_to_token_spans", rows, {p.offsets, p.lengths});
    require_ptrs("char_to_token_spans", fields, {p.char_spans, p.out});
    VR_DEVICE_DISPATCH(p.device, char_to_token_spans, p);
  }, nogil);
  m.def("farthest_point_sampling", [](const PointArgs& p) {
    elements("farthest_point_sampling", {p.B, 3, p.P});
    const int64_t picks = elements("farthest_point_sampling", {p.B, p.G});
    require(picks == 0 || (p.P >= 1 && p.G <= p.P), "farthest_point_sampling", "needs P >= 1 and G <= P");
    require_ptrs("farthest_point_sampling", picks, {p.xyz, p.mind, p.centres});
    VR_DEVICE_DISPATCH(p.device, farthest_point_sampling, p);
  }, nogil);
  m.def("knn", [](const PointArgs& p) {
    elements("knn", {p.B, 3, p.P});
    elements("knn", {p.B, p.G});
    const int64_t total = elements("knn", {p.B, p.G, p.K});
    require(p.K <= p.P && (total == 0 || p.K >= 1), "knn", "needs 1 <= K <= P");
    require_ptrs("knn", total, {p.xyz, p.centres, p.dist, p.idx});
    VR_DEVICE_DISPATCH(p.device, knn, p);
  }, nogil);
  m.def("keypoint_containment", [](const ContainmentArgs& p) {
    require(p.dim == 2 || p.dim == 3, "keypoint_containment", "dim must be 2 or 3");
    require_stride("keypoint_containment", p.box_stride, 2 * p.dim, "box_stride must be 0 or 2 * dim");
    const int64_t points = elements("keypoint_containment", {p.n, p.K, p.dim});
    require_ptrs("keypoint_containment", p.n, {p.counts, p.boxes, p.out});
    require(points == 0 || p.points != 0, "keypoint_containment", "null points pointer");
    VR_DEVICE_DISPATCH(p.device, keypoint_containment, p);
  }, nogil);
}
