#include "tokens/token_offsets.h"

#include <cstring>

#include "common/cpu_exec.h"
#include "common/utf8.h"

namespace vr {
namespace {

inline bool is_lead(uint8_t b) { return (b & 0xC0) != 0x80; }

// Bytes of the UTF-8 character whose lead byte is b (1 for a stray continuation byte).
inline int64_t utf8_len(uint8_t b) { return b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1; }

// One row; false when the pieces do not rebuild `text` (then `out` may hold partial values and the
// caller zeroes it).
bool row_offsets(const PieceTable& tb, const int64_t* ids, const uint8_t* mask, int64_t L, std::string_view text,
                 int64_t* out) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int64_t size = static_cast<int64_t>(text.size());
  int64_t pos = 0;       // bytes of the text rebuilt so far
  int64_t chars = 0;     // lead bytes in text[0, pos)
  int64_t open_end = 0;  // where the last character that starts before pos ends
  int64_t end = 0, last = -1;
  bool first = true;
  const bool ascii = is_ascii(text);  // then every byte is a character: no lead bytes to count
  out[0] = 0;
  for (int64_t t = 0; t < L; ++t) {
    if (mask[t]) {
      const int64_t v = ids[t];
      if (v < 0 || v >= tb.vocab) return false;
      int64_t k = v;
      if (first && tb.offsets[v + 1] > tb.offsets[v]) {
        k = tb.vocab + v;  // the first token that writes anything
        first = false;
      }
      const uint8_t* p = tb.blob + tb.offsets[k];
      const int64_t len = tb.offsets[k + 1] - tb.offsets[k];
      if (len > size - pos || std::memcmp(p, s + pos, static_cast<size_t>(len)) != 0) return false;
      if (ascii) {
        chars += len;
        open_end = pos + len;
      } else {
        for (int64_t b = pos; b < pos + len; ++b)
          if (is_lead(s[b])) ++chars, open_end = b + utf8_len(s[b]);
      }
      pos += len;
      end = chars - (open_end > pos ? 1 : 0);  // an unfinished character belongs to a later token
      last = t;
    }
    out[t + 1] = end;
  }
  if (pos != size) return false;
  for (int64_t t = last < 0 ? L : last; t < L; ++t) out[t + 1] = chars;  // the last generated token reaches the end
  return true;
}

}  // namespace

void token_offsets_from_pieces(const PieceTable& table, const TokenRows& rows, const std::vector<std::string_view>& full) {
  CpuExec{}.for_each(rows.n, [&](int64_t i) {
    int64_t* out = rows.out + i * (rows.L + 1);
    const bool ok = row_offsets(table, rows.ids + i * rows.L, rows.mask + i * rows.L, rows.L, full[i], out);
    if (!ok) std::memset(out, 0, sizeof(int64_t) * static_cast<size_t>(rows.L + 1));
    rows.ok[i] = ok ? 1 : 0;
  }, 64);
}

}  // namespace vr
