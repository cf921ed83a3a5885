// The Python binding of pipeline/pipeline.h (verireward._C): argument classes and checked entry points.
#include "common/bind.h"
#include "pipeline/pipeline.h"
#include "parse/parse_bind.h"

namespace vr {

void bind_pipeline(py::module_& m) {
  m.def("grca_cpu_stage", [](const py::list& texts, const std::vector<FieldSpec>& fields, std::uintptr_t valid,
                             std::uintptr_t spans, std::uintptr_t blob, std::uintptr_t offsets, int64_t vocab,
                             std::uintptr_t ids, std::uintptr_t mask, int64_t L, std::uintptr_t out,
                             std::uintptr_t ok, std::uintptr_t token_spans, const std::string& answer_tag) {
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
    ParseOutputs parsed{ptr<uint8_t>(valid), ptr<int64_t>(spans), answer_tag};
    PieceTable table{ptr<const uint8_t>(blob), ptr<const int64_t>(offsets), vocab};
    TokenRows rows{ptr<const int64_t>(ids), ptr<const uint8_t>(mask), n, L, ptr<int64_t>(out), ptr<uint8_t>(ok)};
    PipelineRows result{ptr<int64_t>(token_spans)};
    py::gil_scoped_release release;
    grca_cpu_stage(views, fields, parsed, table, rows, result);
  }, py::arg("texts"), py::arg("fields"), py::arg("valid"), py::arg("spans"), py::arg("blob"), py::arg("offsets"),
     py::arg("vocab"), py::arg("ids"), py::arg("mask"), py::arg("L"), py::arg("out"), py::arg("ok"), py::arg("token_spans"),
     py::arg("answer_tag") = "");

  // full: a list of UTF-8 bytes objects (each row's full decode), kept alive by the caller.
}

}  // namespace vr
