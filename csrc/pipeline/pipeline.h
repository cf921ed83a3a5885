// The CPU stage of the GRCA pipeline (GRCA §3.2-3.3) in one call: parse every completion, compute
// its tokens' character offsets from the tokenizer's piece table, and map each field's character
// span to a token span. Completions arrive once, as UTF-8, and the three steps run as three
// parallel passes over the rows without returning to Python in between.
//
// Each step is the op's own code (parse_texts, token_offsets_from_pieces, CharToTokenSpans), so
// the results equal the three separate calls exactly. A row whose pieces do not rebuild its text
// (ok = 0) gets zero offsets and token spans (0, 0): the caller computes it another way.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "parse/parse.h"
#include "tokens/token_offsets.h"

namespace vr {

struct PipelineRows {
  int64_t* token_spans = nullptr;  // [n, F, 2] token span of every schema field (text fields too)
};

void grca_cpu_stage(const std::vector<std::string_view>& texts, const std::vector<FieldSpec>& fields,
                    const ParseOutputs& parsed, const PieceTable& table, const TokenRows& rows,
                    const PipelineRows& out);

}  // namespace vr
