// The Python binding of tokens/token_offsets.h (verireward._C): its checked entry point.
#include "common/bind.h"
#include "tokens/token_offsets.h"

namespace vr {

void bind_tokens(py::module_& m) {
  m.def("token_offsets_from_pieces", [](std::uintptr_t blob, std::uintptr_t offsets, int64_t vocab,
                                        std::uintptr_t ids, std::uintptr_t mask, int64_t n, int64_t L,
                                        const py::list& full, std::uintptr_t out, std::uintptr_t ok) {
    require(vocab >= 0, "token_offsets_from_pieces", "negative size");
    elements("token_offsets_from_pieces", {n, L + 1});
    require(L >= 0, "token_offsets_from_pieces", "negative size");
    elements("token_offsets_from_pieces", {2 * vocab + 1});
    require(static_cast<int64_t>(full.size()) == n, "token_offsets_from_pieces", "full must hold one text per row");
    require(blob != 0 && offsets != 0 && (n == 0 || (out != 0 && ok != 0)) && (n * L == 0 || (ids != 0 && mask != 0)),
            "token_offsets_from_pieces", "null data pointer");
    const std::vector<std::string_view> views = bytes_views(full, "token_offsets_from_pieces: full must be str or bytes");
    PieceTable table{ptr<const uint8_t>(blob), ptr<const int64_t>(offsets), vocab};
    TokenRows rows{ptr<const int64_t>(ids), ptr<const uint8_t>(mask), n, L, ptr<int64_t>(out), ptr<uint8_t>(ok)};
    py::gil_scoped_release release;
    token_offsets_from_pieces(table, rows, views);
  });
}

}  // namespace vr
