// The Python binding of match/match.h (verireward._C): its argument class and checked entry point.
#include <algorithm>

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
  // Labels given as N lists (or tuples) of hashables per side -> int64 codes [n, P] / [n, G] in one
  // vocabulary (equal labels, as Python compares dict keys, get equal codes; -1 past each row's
  // count), written to pred_out / gt_out. Returns False, writing nothing useful, as soon as a row is
  // not a list or tuple, holds fewer than its count or more than P (G) labels, or a label is
  // unhashable: the Python layer then takes its own path, which names the argument and the entry.
  m.def("encode_label_rows", [](py::handle pred_labels, py::handle gt_labels, std::uintptr_t pred_counts,
                                std::uintptr_t gt_counts, int64_t n, int64_t P, int64_t G, std::uintptr_t pred_out,
                                std::uintptr_t gt_out) {
    const char* op = "encode_label_rows";
    require(PyList_Check(pred_labels.ptr()) && PyList_Check(gt_labels.ptr()), op, "labels must be lists");
    require(static_cast<int64_t>(PyList_GET_SIZE(pred_labels.ptr())) == n &&
                static_cast<int64_t>(PyList_GET_SIZE(gt_labels.ptr())) == n, op, "one row per sample");
    require_ptrs(op, n, {pred_counts, gt_counts});
    require_ptrs(op, elements(op, {n, P}), {pred_out});
    require_ptrs(op, elements(op, {n, G}), {gt_out});
    py::dict vocab;
    py::object last_held;      // the previous label and its code: labels repeat (one str per class)
    PyObject* last = nullptr;
    int64_t last_code = -1;
    // One side: false when a row or a label is not what the fast path takes.
    auto side = [&](py::handle rows_obj, const int64_t* counts, int64_t width, int64_t* out) -> bool {
      PyObject* rows = rows_obj.ptr();
      for (int64_t i = 0; i < n; ++i) {
        if (i >= static_cast<int64_t>(PyList_GET_SIZE(rows))) return false;
        // owned references: a label's __hash__ or __eq__ may run Python code that changes the lists
        const py::object row = py::reinterpret_borrow<py::object>(PyList_GET_ITEM(rows, i));
        if (!PyList_Check(row.ptr()) && !PyTuple_Check(row.ptr())) return false;
        const int64_t c = counts[i];
        const int64_t len = static_cast<int64_t>(PySequence_Fast_GET_SIZE(row.ptr()));
        if (c < 0 || c > width || len < c || len > width) return false;
        int64_t* o = out + i * width;
        for (int64_t k = 0; k < c; ++k) {
          if (k >= static_cast<int64_t>(PySequence_Fast_GET_SIZE(row.ptr()))) return false;
          const py::object held = py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(row.ptr(), k));
          PyObject* key = held.ptr();
          if (key != last) {
            PyObject* hit = PyDict_GetItemWithError(vocab.ptr(), key);  // borrowed
            if (hit == nullptr) {
              if (PyErr_Occurred()) {  // unhashable
                PyErr_Clear();
                return false;
              }
              py::int_ code(static_cast<int64_t>(PyDict_GET_SIZE(vocab.ptr())));
              if (PyDict_SetItem(vocab.ptr(), key, code.ptr()) != 0) {
                PyErr_Clear();
                return false;
              }
              last_code = code.cast<int64_t>();
            } else {
              last_code = PyLong_AsLongLong(hit);
            }
            last_held = held;
            last = key;
          }
          o[k] = last_code;
        }
        std::fill(o + c, o + width, int64_t{-1});
      }
      return true;
    };
    return side(gt_labels, reinterpret_cast<const int64_t*>(gt_counts), G, reinterpret_cast<int64_t*>(gt_out)) &&
           side(pred_labels, reinterpret_cast<const int64_t*>(pred_counts), P, reinterpret_cast<int64_t*>(pred_out));
  });
}

}  // namespace vr
