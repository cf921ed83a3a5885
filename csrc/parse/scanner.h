// The scanner and field reader shared by parse_texts (parse_cpu.cpp) and parse_objects
// (objects_cpu.cpp): the tolerant JSON grammar, the answer region, and how one object's fields are
// read into one output slot. Internal to csrc/parse/.
#pragma once
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/abi.h"
#include "common/utf8.h"
#include "parse/parse.h"

namespace vr {
namespace parse_detail {

struct Scanner {
  const char* s;
  size_t n;
  size_t i = 0;

  bool done() const { return i >= n; }
  char peek() const { return i < n ? s[i] : '\0'; }
  void ws() {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    if (i < n && s[i] == c) { ++i; return true; }
    return false;
  }

  // A string in `quote`; appends its decoded bytes to *out when out is not null.
  bool string(std::string* out) {
    const char quote = peek();
    if (quote != '"' && quote != '\'') return false;
    ++i;
    while (i < n) {
      const char c = s[i++];
      if (c == quote) return true;
      if (c != '\\') {
        if (out) out->push_back(c);
        continue;
      }
      if (i >= n) return false;
      const char e = s[i++];
      switch (e) {
        case '"': case '\'': case '\\': case '/': if (out) out->push_back(e); break;
        case 'b': if (out) out->push_back('\b'); break;
        case 'f': if (out) out->push_back('\f'); break;
        case 'n': if (out) out->push_back('\n'); break;
        case 'r': if (out) out->push_back('\r'); break;
        case 't': if (out) out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < n && s[i] == '\\' && s[i + 1] == 'u') {
            const size_t save = i;
            i += 2;
            uint32_t lo = 0;
            if (hex4(&lo) && lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else i = save;
          }
          if (out) utf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool hex4(uint32_t* cp) {
    if (i + 4 > n) return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return false;
    }
    *cp = v;
    return true;
  }
  static void utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) { out->push_back(static_cast<char>(cp)); }
    else if (cp < 0x800) { out->push_back(static_cast<char>(0xC0 | (cp >> 6))); out->push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
    else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // A number; *value receives it (possibly +-inf for an overflowing literal); value null: the
  // number is only validated (the grammar pass converts nothing).
  bool number(double* value) {
    const size_t start = i;
    if (peek() == '-' || peek() == '+') ++i;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') { ++i; ++digits; }
    if (peek() == '.') {
      ++i;
      while (i < n && s[i] >= '0' && s[i] <= '9') { ++i; ++digits; }
    }
    if (digits == 0) { i = start; return false; }
    if (peek() == 'e' || peek() == 'E') {
      const size_t save = i;
      ++i;
      if (peek() == '-' || peek() == '+') ++i;
      size_t exp_digits = 0;
      while (i < n && s[i] >= '0' && s[i] <= '9') { ++i; ++exp_digits; }
      if (exp_digits == 0) i = save;
    }
    if (value == nullptr) return true;  // the grammar pass: only where the number ends matters
    const char* b = s + start + (s[start] == '+' ? 1 : 0);
    if (i - start <= 16) {  // a short integer (what bins are): exact in int64; its conversion to
                            // double rounds correctly, so it equals what from_chars would give
      const char* p = s + start + (s[start] == '-' || s[start] == '+' ? 1 : 0);
      int64_t k = 0;
      while (p < s + i && *p >= '0' && *p <= '9') k = k * 10 + (*p++ - '0');
      if (p == s + i) {
        *value = s[start] == '-' ? -static_cast<double>(k) : static_cast<double>(k);
        return true;
      }
    }
    double v = 0.0;
    const auto r = std::from_chars(b, s + i, v);
    if (r.ec == std::errc::result_out_of_range) {
      // from_chars leaves v unset on overflow/underflow: decide by the exponent's sign
      bool neg_exp = false;
      for (const char* p = b; p < s + i; ++p) if ((*p == 'e' || *p == 'E') && p + 1 < s + i && p[1] == '-') neg_exp = true;
      v = neg_exp ? 0.0 : (s[start] == '-' ? -HUGE_VAL : HUGE_VAL);
    } else if (r.ptr != s + i) {
      i = start;
      return false;
    }
    *value = v;
    return true;
  }

  bool literal(const char* word) {
    const size_t len = std::strlen(word);
    if (i + len <= n && std::memcmp(s + i, word, len) == 0) { i += len; return true; }
    return false;
  }

  // Any value (validates the grammar and moves past it).
  bool value(int depth) {
    if (depth > kMaxDepth) return false;
    ws();
    const char c = peek();
    if (c == '{') return object(depth + 1, nullptr);
    if (c == '[' || c == '(') return sequence(depth + 1, nullptr);
    if (c == '"' || c == '\'') return string(nullptr);
    if (number(nullptr)) return true;
    // JSON's literals, Python's, and the non-finite numbers json.dumps writes: the value parses (so
    // the object around it counts), but it is never a number (a field holding one is invalid)
    return literal("true") || literal("false") || literal("null") || literal("True") || literal("False") ||
           literal("None") || literal("NaN") || literal("Infinity") || literal("-Infinity");
  }

  // '[...]' or '(...)'. Numbers reports what the sequence holds: leaves are collected into *flat
  // when the sequence is a flat list of numbers or a list of flat tuples/lists of numbers.
  struct Numbers {
    std::vector<double>* flat;  // leaves are appended here (shared with nested sequences)
    bool ok = true;      // only numbers, at most two levels deep, inner sequences of one length
    int inner_len = -1;  // -1: flat list; else the length of every inner sequence
  };
  bool sequence(int depth, Numbers* nums) {
    if (depth > kMaxDepth) return false;
    const char open = peek();
    const char close = open == '[' ? ']' : ')';
    ++i;
    ws();
    bool first = true, saw_number = false, saw_seq = false;
    while (true) {
      ws();
      if (eat(close)) break;
      if (!first) {
        if (!eat(',')) return false;
        ws();
        if (eat(close)) break;  // trailing comma
      }
      first = false;
      const char c = peek();
      if (nums && (c == '[' || c == '(')) {
        saw_seq = true;
        Numbers inner{nums->flat};
        const size_t before = nums->flat->size();
        if (!sequence(depth + 1, &inner)) return false;
        if (!inner.ok || inner.inner_len != -1) nums->ok = false;
        const int len = static_cast<int>(nums->flat->size() - before);
        if (nums->inner_len == -1) nums->inner_len = len;
        else if (nums->inner_len != len) nums->ok = false;
        continue;
      }
      if (nums) {
        double v;
        ws();
        if (number(&v)) {
          saw_number = true;
          nums->flat->push_back(v);
          continue;
        }
        nums->ok = false;
      }
      if (!value(depth)) return false;
    }
    if (nums && saw_number && saw_seq) nums->ok = false;  // mixed [1, [2, 3]]
    return true;
  }

  struct Pair {
    std::string key;
    size_t value_begin, value_end;
  };
  bool object(int depth, std::vector<Pair>* pairs) {
    if (depth > kMaxDepth || !eat('{')) return false;
    bool first = true;
    while (true) {
      ws();
      if (eat('}')) return true;
      if (!first) {
        if (!eat(',')) return false;
        ws();
        if (eat('}')) return true;
      }
      first = false;
      std::string key;
      if (!string(pairs ? &key : nullptr)) return false;
      ws();
      if (!eat(':')) return false;
      ws();
      const size_t vb = i;
      if (!value(depth)) return false;
      if (pairs) pairs->push_back(Pair{std::move(key), vb, i});
    }
  }
};

// Python str indices of byte offsets in one text: the number of code points (UTF-8 lead bytes)
// before the offset. An ASCII text's are its byte offsets; otherwise a cursor moves from the last
// offset asked, forwards or backwards, so offsets asked in (roughly) text order cost O(text) in
// all, not O(text) each.
class StrIndex {
 public:
  explicit StrIndex(std::string_view text) : s_(text.data()), ascii_(is_ascii(text)) {}
  int64_t operator()(size_t b) {
    if (ascii_) return static_cast<int64_t>(b);
    if (b < byte_ / 2) byte_ = 0, cp_ = 0;  // nearer the start than the cursor
    for (; byte_ < b; ++byte_) cp_ += (static_cast<unsigned char>(s_[byte_]) & 0xC0) != 0x80;
    for (; byte_ > b; --byte_) cp_ -= (static_cast<unsigned char>(s_[byte_ - 1]) & 0xC0) != 0x80;
    return cp_;
  }

 private:
  const char* s_;
  bool ascii_;
  size_t byte_ = 0;
  int64_t cp_ = 0;
};

// Clears slot `row` of every field: invalid, span (0, 0), NaN values, zero points.
inline void clear_slot(const std::vector<FieldSpec>& fields, const ParseOutputs& out, int64_t row) {
  const int64_t F = static_cast<int64_t>(fields.size());
  for (int64_t f = 0; f < F; ++f) {
    const FieldSpec& spec = fields[f];
    out.valid[row * F + f] = 0;
    out.spans[(row * F + f) * 2] = out.spans[(row * F + f) * 2 + 1] = 0;
    if (spec.kind == 0) continue;
    double* vals = ptr<double>(spec.values) + row * spec.max_values;
    std::fill(vals, vals + spec.max_values, std::numeric_limits<double>::quiet_NaN());
    if (spec.kind == 2) ptr<int64_t>(spec.counts)[row] = 0;
  }
}

// The region read: the whole text, or the answer of a think-then-answer completion. With a tag:
// what follows the last "</think>" (the whole text when there is none) is searched; a "<think>"
// in it (reasoning never closed) leaves no answer. The answer is the last "<tag>" there, up to the
// first "</tag>" after it; without that close the final answer was cut off and there is no answer
// (an earlier, complete one is never read instead). False: no answer, nothing is valid.
inline bool answer_region(std::string_view text, const std::string& tag, size_t* begin, size_t* end) {
  *begin = 0, *end = text.size();
  if (tag.empty()) return true;
  static constexpr std::string_view think_open = "<think>", think_close = "</think>";
  const size_t tc = text.rfind(think_close);
  const size_t from = tc == std::string_view::npos ? 0 : tc + think_close.size();
  if (text.find(think_open, from) != std::string_view::npos) return false;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  const size_t o = text.rfind(open);
  if (o == std::string_view::npos || o < from) return false;
  const size_t c = text.find(close, o + open.size());
  if (c == std::string_view::npos) return false;
  *begin = o + open.size(), *end = c;
  return true;
}

// The scale of number `a` of a field for text `text_row` (its own frame, or the text's).
inline double scale_of(const FieldSpec& spec, int64_t text_row, int64_t a) {
  return spec.row_scale ? ptr<double>(spec.row_scale)[text_row * static_cast<int64_t>(spec.scale.size()) + a] : spec.scale[a];
}

// Checks the `count` written values of a numeric field and converts them, in place and axis by
// axis, into the ground truth's frame for text `text_row`: false when one is not finite, not a bin
// (quantized fields) or not finite once converted (1e308 times a range). Then nothing is written.
inline bool to_frame(const FieldSpec& spec, int64_t text_row, double* flat, int64_t count) {
  const double top = static_cast<double>(spec.bins);
  const int64_t period = static_cast<int64_t>(spec.scale.size());  // dim, or a box's arity
  for (int64_t k = 0, a = 0; k < count; ++k, a = a + 1 == period ? 0 : a + 1) {
    const double v = flat[k];
    if (!std::isfinite(v) || (spec.quantized && !(v == std::floor(v) && v >= 0.0 && v <= top))) return false;
    flat[k] = spec.offset[a] + scale_of(spec, text_row, a) * v;
    if (!std::isfinite(flat[k])) return false;
  }
  return true;
}

// Marks field f of slot `row` valid, its value text at bytes [b, e).
inline void mark_valid(const ParseOutputs& out, int64_t F, int64_t row, int64_t f, StrIndex& index, size_t b, size_t e) {
  out.valid[row * F + f] = 1;
  out.spans[(row * F + f) * 2] = index(b);
  out.spans[(row * F + f) * 2 + 1] = index(e);
}

// A text field's value as a string: stripped of ASCII whitespace, and a quoted string decoded as
// JSON (and Python) decode it, in either quote ('say \"hi\"' is say "hi"); a quoted value that does
// not decode is its inside as written; anything else is itself. Into *out (replaced).
inline void text_value(std::string_view text, size_t b, size_t e, std::string* out) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (b < e && space(text[b])) ++b;
  while (e > b && space(text[e - 1])) --e;
  out->clear();
  if (e - b >= 2 && (text[b] == '"' || text[b] == '\'') && text[e - 1] == text[b]) {
    Scanner sc{text.data(), e, b};
    if (sc.string(out) && sc.i == e) return;
    out->assign(text.data() + b + 1, e - b - 2);
    return;
  }
  out->assign(text.data() + b, e - b);
}

// Reads every field from one object's top-level `pairs` into slot `row` (already cleared). With
// `decoded`, each text field's value (text_value; empty when invalid) is appended to it, in field
// order.

inline void read_fields(std::string_view text, StrIndex& index, const std::vector<Scanner::Pair>& pairs,
                 const std::vector<FieldSpec>& fields, const ParseOutputs& out, int64_t row, int64_t text_row,
                 std::vector<double>& flat, std::vector<std::string>* decoded = nullptr) {
  const int64_t F = static_cast<int64_t>(fields.size());
  for (int64_t f = 0; f < F; ++f) {
    const FieldSpec& spec = fields[f];
    const Scanner::Pair* hit = nullptr;
    int hits = 0;
    for (const auto& p : pairs)
      for (const auto& k : spec.keys)
        if (p.key == k) { hit = &p; ++hits; break; }
    if (decoded && spec.kind == 0) {
      decoded->emplace_back();
      if (hits == 1) text_value(text, hit->value_begin, hit->value_end, &decoded->back());
    }
    if (hits != 1) continue;  // missing or duplicated
    bool ok = true;
    if (spec.kind != 0) {
      Scanner sc{text.data(), hit->value_end, hit->value_begin};
      const char c = sc.peek();
      flat.clear();
      Scanner::Numbers nums{&flat};
      ok = (c == '[' || c == '(') && sc.sequence(1, &nums) && nums.ok && sc.i == hit->value_end;
      const int64_t count = static_cast<int64_t>(flat.size());
      if (ok) {
        if (nums.inner_len != -1) ok = nums.inner_len == spec.dim;  // a list of dim-tuples
        if (spec.kind == 1) ok = ok && count == spec.max_values;  // a box: exactly its arity
        else ok = ok && count > 0 && count % spec.dim == 0 && count <= spec.max_values;  // [] writes no point: invalid
      }
      ok = ok && to_frame(spec, text_row, flat.data(), count);
      if (ok) {
        std::memcpy(ptr<double>(spec.values) + row * spec.max_values, flat.data(), sizeof(double) * static_cast<size_t>(count));
        if (spec.kind == 2) ptr<int64_t>(spec.counts)[row] = count / spec.dim;
      }
    }
    if (ok) mark_valid(out, F, row, f, index, hit->value_begin, hit->value_end);
  }
}

}  // namespace parse_detail
}  // namespace vr
