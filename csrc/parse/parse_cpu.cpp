#include "parse/parse.h"

#include "common/cpu_exec.h"
#include "common/utf8.h"
#include "parse/scanner.h"

namespace vr {
namespace {
using namespace parse_detail;

void parse_one(std::string_view text, const std::vector<FieldSpec>& fields, const ParseOutputs& out, int64_t row,
               std::vector<Scanner::Pair>& pairs, std::vector<double>& flat) {
  clear_slot(fields, out, row);
  size_t begin, end;
  if (!answer_region(text, out.answer_tag, &begin, &end)) return;
  bool found = false;
  for (size_t start = begin; start < end && !found; ++start) {
    if (text[start] != '{') continue;
    Scanner sc{text.data(), end, start};
    pairs.clear();
    found = sc.object(1, &pairs);
  }
  if (!found) return;
  StrIndex index(text);  // Python str indices are code points
  read_fields(text, index, pairs, fields, out, row, row, flat);
}

}  // namespace

void parse_texts(const std::vector<std::string_view>& texts, const std::vector<FieldSpec>& fields,
                 const ParseOutputs& out) {
  parallel_ranges(static_cast<int64_t>(texts.size()), 16, [&](int64_t b, int64_t e) {
    std::vector<Scanner::Pair> pairs;  // reused across the texts of one thread
    std::vector<double> flat;
    for (int64_t i = b; i < e; ++i) parse_one(texts[static_cast<size_t>(i)], fields, out, i, pairs, flat);
  });
}

}  // namespace vr
