// The Python binding of parse/parse.h (verireward._C): argument classes and checked entry points.
#include <algorithm>
#include <unordered_map>

#include "common/bind.h"
#include "parse/parse.h"
#include "parse/parse_bind.h"

namespace vr {

// The FieldSpecs of a parse over n texts: kinds, dimensions, value counts and pointers.
void check_field_specs(const char* op, const std::vector<FieldSpec>& fields, int64_t n) {
  for (const auto& f : fields) {
    require(f.kind >= 0 && f.kind <= 2 && (f.kind == 0 || f.dim >= 1), op, "bad field kind or dim");
    if (f.kind == 0) continue;
    require(f.dim >= 1 && f.dim <= 3, op, "dim must be 1, 2 or 3");
    // a box holds 2 * dim corners' numbers, or (an oriented box) its own arity with one (offset,
    // scale) per number; points a multiple of dim
    const int64_t period = static_cast<int64_t>(f.scale.size());
    require((f.kind != 1 || f.max_values == 2 * f.dim || f.max_values == period) && f.max_values >= f.dim &&
            f.max_values <= (int64_t{1} << 24), op, "max_values does not fit the field's kind");
    require(f.bins >= 1, op, "bins must be >= 1");
    elements(op, {n, f.max_values});
    require((period == f.dim || (f.kind == 1 && period == f.max_values)) && f.offset.size() == f.scale.size(), op,
            "scale and offset need one entry per axis (an oriented box: one per number)");
    require(n == 0 || (f.values != 0 && (f.kind != 2 || f.counts != 0)), op, "null data pointer");
  }
}

void bind_parse(py::module_& m) {
  VR_BIND_ARGS(m, FieldSpec, VR_FIELD_SPEC);
  m.def("parse_texts", [](const py::list& texts, const std::vector<FieldSpec>& fields, std::uintptr_t valid,
                          std::uintptr_t spans, const std::string& answer_tag) {
    const std::vector<std::string_view> views = bytes_views(texts, "parse_texts: texts must be str or bytes");
    const bool rows = !views.empty();
    require(!rows || fields.empty() || (valid && spans), "parse_texts", "null data pointer");
    check_field_specs("parse_texts", fields, static_cast<int64_t>(views.size()));
    ParseOutputs out{ptr<uint8_t>(valid), ptr<int64_t>(spans), answer_tag};
    py::gil_scoped_release release;
    parse_texts(views, fields, out);
  }, py::arg("texts"), py::arg("fields"), py::arg("valid"), py::arg("spans"), py::arg("answer_tag") = "");

  m.def("parse_objects", [](const py::list& texts, const std::vector<FieldSpec>& fields, std::uintptr_t valid,
                            std::uintptr_t spans, std::uintptr_t object_spans, std::uintptr_t counts,
                            int64_t max_objects, const std::string& answer_tag) {
    const std::vector<std::string_view> views = bytes_views(texts, "parse_objects: texts must be str or bytes");
    const int64_t n = static_cast<int64_t>(views.size());
    require(max_objects >= 1 && max_objects <= (int64_t{1} << 20), "parse_objects", "max_objects must be in [1, 2**20]");
    const int64_t slots = elements("parse_objects", {n, max_objects});
    require(n == 0 || (object_spans && counts && (fields.empty() || (valid && spans))), "parse_objects", "null data pointer");
    check_field_specs("parse_objects", fields, slots);
    ParseOutputs out{ptr<uint8_t>(valid), ptr<int64_t>(spans), answer_tag};
    int64_t T = 0;  // text fields
    for (const auto& f : fields) T += f.kind == 0;
    std::vector<std::vector<std::string>> decoded(static_cast<size_t>(T > 0 ? n : 0));
    ObjectOutputs objs{max_objects, ptr<int64_t>(object_spans), ptr<int64_t>(counts), T > 0 ? &decoded : nullptr};
    {
      py::gil_scoped_release release;
      parse_objects(views, fields, out, objs);
    }
    // Per text field, [decoded, raw]: n lists of one str per stored object (None where the field
    // is invalid). decoded: the scanner's text_value, UTF-8 decoded keeping lone surrogates (what a
    // \ud800 escape or a str holding one gives), else with replacement characters. raw: the value
    // as written, text[s:e] at its code-point span, cut from the caller's str (a bytes entry, a
    // str with lone surrogates encoded with surrogatepass, is decoded back the same way first).
    const int64_t F = static_cast<int64_t>(fields.size());
    const uint8_t* ok = ptr<uint8_t>(valid);
    const int64_t* sp = ptr<int64_t>(spans);
    // UTF-8 bytes as a new str, keeping lone surrogates, else with replacement characters.
    auto decode = [](std::string_view v) {
      PyObject* u = PyUnicode_DecodeUTF8(v.data(), static_cast<Py_ssize_t>(v.size()), "surrogatepass");
      if (u == nullptr) {
        PyErr_Clear();
        u = PyUnicode_DecodeUTF8(v.data(), static_cast<Py_ssize_t>(v.size()), "replace");
      }
      if (u == nullptr) throw py::error_already_set();
      return u;
    };
    std::vector<py::object> strs_of(static_cast<size_t>(T > 0 ? n : 0));
    for (int64_t i = 0; T > 0 && i < n; ++i) {
      py::handle t = texts[static_cast<size_t>(i)];
      strs_of[static_cast<size_t>(i)] = PyUnicode_Check(t.ptr())
          ? py::reinterpret_borrow<py::object>(t)
          : py::reinterpret_steal<py::object>(decode(views[static_cast<size_t>(i)]));
    }
    // Rows are built with the list C API (one PyList_New per row, items stolen); a label seen
    // before in this call (labels repeat: a few classes over many objects) reuses its str.
    auto new_list = [](Py_ssize_t k) {
      PyObject* l = PyList_New(k);
      if (l == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::list>(l);
    };
    py::list result;
    int64_t f_text = 0;
    for (size_t f = 0; f < fields.size(); ++f) {
      if (fields[f].kind != 0) continue;
      py::list dec_rows = new_list(static_cast<Py_ssize_t>(n)), raw_rows = new_list(static_cast<Py_ssize_t>(n));
      std::unordered_map<std::string, py::object> seen;
      for (int64_t i = 0; i < n; ++i) {
        const auto& strs = decoded[static_cast<size_t>(i)];
        const int64_t stored = static_cast<int64_t>(strs.size()) / T;
        py::list row = new_list(static_cast<Py_ssize_t>(stored)), raw = new_list(static_cast<Py_ssize_t>(stored));
        PyObject* whole = strs_of[static_cast<size_t>(i)].ptr();
        const Py_ssize_t len = PyUnicode_GetLength(whole);
        for (int64_t m = 0; m < stored; ++m) {
          const int64_t slot = (i * max_objects + m) * F + static_cast<int64_t>(f);
          if (!ok[slot]) {
            PyList_SET_ITEM(row.ptr(), m, py::none().release().ptr());
            PyList_SET_ITEM(raw.ptr(), m, py::none().release().ptr());
            continue;
          }
          const std::string& v = strs[static_cast<size_t>(m * T + f_text)];
          auto hit = seen.find(v);
          if (hit == seen.end()) hit = seen.emplace(v, py::reinterpret_steal<py::object>(decode(v))).first;
          PyList_SET_ITEM(row.ptr(), m, py::object(hit->second).release().ptr());
          const Py_ssize_t b = std::min<Py_ssize_t>(static_cast<Py_ssize_t>(sp[2 * slot]), len);
          const Py_ssize_t e = std::min<Py_ssize_t>(std::max<Py_ssize_t>(static_cast<Py_ssize_t>(sp[2 * slot + 1]), b), len);
          PyObject* r = PyUnicode_Substring(whole, b, e);
          if (r == nullptr) throw py::error_already_set();
          PyList_SET_ITEM(raw.ptr(), m, r);
        }
        PyList_SET_ITEM(dec_rows.ptr(), i, row.release().ptr());
        PyList_SET_ITEM(raw_rows.ptr(), i, raw.release().ptr());
      }
      result.append(py::make_tuple(std::move(dec_rows), std::move(raw_rows)));
      ++f_text;
    }
    return result;
  }, py::arg("texts"), py::arg("fields"), py::arg("valid"), py::arg("spans"), py::arg("object_spans"),
     py::arg("counts"), py::arg("max_objects"), py::arg("answer_tag") = "");

  // The GRCA CPU stage in one call (pipeline/pipeline.h): texts as UTF-8 bytes (kept alive by the
  // caller), the schema's FieldSpecs, and the piece table (blob = 0: none).
}

}  // namespace vr
