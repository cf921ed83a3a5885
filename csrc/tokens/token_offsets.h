// Character offsets of generated tokens from a table of the bytes each token id decodes to (the
// fast path of verireward.token_char_offsets; CPU only, like the parser).
//
// A row's text is the concatenation of its tokens' pieces: piece v for id v, except that the first
// token with a non-empty piece contributes piece vocab + v (decoders treat the first token apart:
// Metaspace drops its space, WordPiece does not join it). Skipped ids (special tokens) have empty
// pieces. The row is accepted only when that
// concatenation is byte-for-byte the row's full decode (UTF-8) given by the caller; otherwise its
// `ok` flag is 0 and the caller computes it another way. Token t ends at the number of Unicode
// code points complete within the first B_t bytes, B_t the bytes of tokens 0..t: a character split
// over tokens belongs to the token that completes it, exactly the longest common prefix of the
// decode of tokens 0..t with the full decode.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace vr {

struct PieceTable {
  const uint8_t* blob = nullptr;    // all pieces, concatenated
  const int64_t* offsets = nullptr; // [2 * vocab + 1]: piece k is blob[offsets[k], offsets[k+1])
  int64_t vocab = 0;
};

struct TokenRows {
  const int64_t* ids = nullptr;     // [n, L]
  const uint8_t* mask = nullptr;    // [n, L]
  int64_t n = 0, L = 0;
  int64_t* out = nullptr;           // [n, L + 1] offsets (rows with ok = 0 are left as zeros)
  uint8_t* ok = nullptr;            // [n]
};

void token_offsets_from_pieces(const PieceTable& table, const TokenRows& rows,
                               const std::vector<std::string_view>& full);

}  // namespace vr
