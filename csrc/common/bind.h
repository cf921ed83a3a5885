// What every op's binding file (csrc/<op>/<op>_bind.cpp) shares: the checks that make each entry
// point of verireward._C safe on its own, and VR_BIND_ARGS, which expands an argument struct's
// field list (common/abi.h) into its Python class.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/abi.h"
#include "common/runtime.h"

namespace vr {
namespace py = pybind11;

#define VR_ARG_BIND(type, name, init) .def_readwrite(#name, &Self::name)
// py::class_ Name with a default constructor and one read-write attribute per field of LIST.
#define VR_BIND_ARGS(m, Name, LIST)                                          \
  do {                                                                       \
    using Self = Name;                                                       \
    py::class_<Self>(m, #Name).def(py::init<>()) LIST(VR_ARG_BIND);          \
  } while (0)

// Last line of defence: the Python layer validates everything, but a direct call into _C with a
// null pointer or a negative size must raise rather than crash.
inline void require(bool ok, const char* op, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("verireward._C.") + op + ": " + what);
}
inline void require_ptrs(const char* op, int64_t n, std::initializer_list<std::uintptr_t> ptrs) {
  require(n >= 0, op, "negative size");
  if (n == 0) return;
  for (auto p : ptrs) require(p != 0, op, "null data pointer");
}
// The number of elements of an array with these dimensions: each must be >= 0 and the product
// must not pass 2^62 (so that no index expression in a kernel, n * stride + k, overflows int64).
inline int64_t elements(const char* op, std::initializer_list<int64_t> dims) {
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
inline void require_stride(const char* op, int64_t stride, int64_t row, const char* what) {
  require(stride == 0 || stride == row, op, what);
}

// Views of a list of bytes or str objects (kept alive by the caller, who holds the GIL while collecting).
inline std::vector<std::string_view> bytes_views(const py::list& items, const char* what) {
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


// The GIL is released while a kernel runs.
inline auto nogil() { return py::call_guard<py::gil_scoped_release>(); }

// One binding function per op folder; ext.cpp calls them all.
void bind_box_iou(py::module_& m);
void bind_project_box(py::module_& m);
void bind_containment(py::module_& m);
void bind_grpo(py::module_& m);
void bind_points(py::module_& m);
void bind_parse(py::module_& m);
void bind_tokens(py::module_& m);
void bind_pipeline(py::module_& m);
void bind_oriented(py::module_& m);
void bind_match(py::module_& m);
void bind_detection(py::module_& m);

}  // namespace vr
