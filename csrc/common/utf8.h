// Small UTF-8 helpers shared by the parser and the token offsets (CPU only).
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

namespace vr {

// No byte of the text has its high bit set (eight bytes per step): then code points are bytes.
inline bool is_ascii(std::string_view text) {
  const char* p = text.data();
  size_t n = text.size();
  uint64_t high = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    high |= w;
  }
  for (; n > 0; ++p, --n) high |= static_cast<unsigned char>(*p);
  return (high & 0x8080808080808080ull) == 0;
}

}  // namespace vr
