#include "pipeline/pipeline.h"

#include "common/cpu_exec.h"
#include "grpo/grpo.h"

namespace vr {

void grca_cpu_stage(const std::vector<std::string_view>& texts, const std::vector<FieldSpec>& fields,
                    const ParseOutputs& parsed, const PieceTable& table, const TokenRows& rows,
                    const PipelineRows& out) {
  const int64_t F = static_cast<int64_t>(fields.size());
  parse_texts(texts, fields, parsed);
  if (table.blob != nullptr) {
    token_offsets_from_pieces(table, rows, texts);
  } else {  // no piece table for this tokenizer: every row is left to the caller
    for (int64_t i = 0; i < rows.n; ++i) rows.ok[i] = 0;
  }
  std::vector<int64_t> lengths(static_cast<size_t>(rows.n));
  for (int64_t i = 0; i < rows.n; ++i) {
    int64_t k = 0;
    for (int64_t t = 0; t < rows.L; ++t) k += rows.mask[i * rows.L + t] != 0;
    lengths[static_cast<size_t>(i)] = rows.ok[i] ? k : 0;  // a row left to the caller: spans (0, 0)
  }
  CpuExec{}.for_each(rows.n, CharToTokenSpans{parsed.spans, rows.out, lengths.data(), F, rows.L, out.token_spans}, 256);
}

}  // namespace vr
