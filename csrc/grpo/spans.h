// The alignment of character spans to token spans (GRCA §3.3).
#pragma once
#include <cstdint>

#include "common/macros.h"

namespace vr {

// Token span of each field from its character span (end exclusive). Token t of row i covers the
// characters [off[i, t], off[i, t + 1]); it belongs to a field when that range overlaps the
// field's, and the field's span runs from its first to its last overlapping token, among the first
// lengths[i] tokens. An empty character span (start >= end) or no overlapping token gives (0, 0).
// Spans are then made disjoint in text order: a token shared with the field before it (in the
// text) stays with that earlier field; a field left with no token gets (0, 0).
struct CharToTokenSpans {
  const int64_t* char_spans;  // [n, F, 2]
  const int64_t* offsets;     // [n, L + 1]
  const int64_t* lengths;     // [n]
  int64_t F, L;
  int64_t* out;               // [n, F, 2]
  VR_HD void operator()(int64_t i) const {
    const int64_t* off = offsets + i * (L + 1);
    const int64_t len = vmin<int64_t>(vmax<int64_t>(lengths[i], 0), L);
    int64_t* o = out + i * F * 2;
    for (int64_t f = 0; f < F; ++f) {
      const int64_t cs = char_spans[(i * F + f) * 2], ce = char_spans[(i * F + f) * 2 + 1];
      int64_t t0 = 0, t1 = 0;
      if (cs < ce && len > 0) {
        // first token whose end is past cs; then one past the last token that starts before ce
        int64_t lo = 0, hi = len;
        while (lo < hi) {
          const int64_t mid = lo + (hi - lo) / 2;
          if (off[mid + 1] > cs) hi = mid; else lo = mid + 1;
        }
        t0 = lo;
        lo = t0, hi = len;
        while (lo < hi) {
          const int64_t mid = lo + (hi - lo) / 2;
          if (off[mid] < ce) lo = mid + 1; else hi = mid;
        }
        t1 = lo;
        if (t0 >= t1) t0 = t1 = 0;
      }
      o[2 * f] = t0;
      o[2 * f + 1] = t1;
    }
    // Disjoint in text order: visit the non-empty fields by (character start, index) — F is
    // small, so a scan per step — and start each after the tokens the previous one kept.
    int64_t prev_end = 0, last_cs = 0, last_f = -1;
    for (int64_t step = 0; step < F; ++step) {
      int64_t best = -1;
      for (int64_t f = 0; f < F; ++f) {
        if (o[2 * f] >= o[2 * f + 1]) continue;
        const int64_t cs = char_spans[(i * F + f) * 2];
        const bool after_last = last_f < 0 || cs > last_cs || (cs == last_cs && f > last_f);
        const bool before_best = best < 0 || cs < char_spans[(i * F + best) * 2] ||
                                 (cs == char_spans[(i * F + best) * 2] && f < best);
        if (after_last && before_best) best = f;
      }
      if (best < 0) break;
      last_cs = char_spans[(i * F + best) * 2];
      last_f = best;
      const int64_t t0 = vmax(o[2 * best], prev_end);
      if (t0 >= o[2 * best + 1]) {
        o[2 * best] = o[2 * best + 1] = 0;
      } else {
        o[2 * best] = t0;
        prev_end = o[2 * best + 1];
      }
    }
  }
};

}  // namespace vr
