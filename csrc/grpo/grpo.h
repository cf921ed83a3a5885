// Group-relative advantages (GRCA paper Eq. 9, 10, 14; the statistics core AP-GRPO reuses) and the
// alignment of character spans to token spans.
//
// Groups are contiguous rows given by a CSR pointer: group g is rows [ptr[g], ptr[g+1]).
// Standardization of column f of group g:  A_i = (r_i - mean) / (std + eps), with the mean and the
// standard deviation (unbiased by default) accumulated in double, two-pass. A group whose values
// are equal up to rounding — std <= std_floor * max_i |r_i| — gets 0 (float32 residue must never
// become advantages of thousands); std_floor = 0 disables that. A group of one row gets 0, or in
// verl's convention (singleton_identity) mean 0 and std 1: A = r / (1 + eps).
#pragma once
#include <cmath>
#include <cstdint>

#include "common/abi.h"
#include "common/macros.h"

namespace vr {

template <class T> struct GroupStandardize {
  const T* r;            // [n, F]
  int64_t F;
  const int64_t* ptr;    // [groups + 1]
  T* out;                // [n, F]
  double eps, std_floor;
  bool unbiased, singleton_identity;
  VR_HD void operator()(int64_t k) const {  // k = group * F + column
    const int64_t g = k / F, f = k % F, b = ptr[g], e = ptr[g + 1], n = e - b;
    if (n <= 0) return;
    if (n == 1) {
      out[b * F + f] = singleton_identity ? static_cast<T>(static_cast<double>(r[b * F + f]) / (1.0 + eps)) : T(0);
      return;
    }
    double mean = 0.0, scale = 0.0;
    for (int64_t i = b; i < e; ++i) {
      const double x = static_cast<double>(r[i * F + f]);
      mean += x;
      scale = vmax(scale, vmax(x, -x));
    }
    mean /= static_cast<double>(n);
    double ss = 0.0;
    for (int64_t i = b; i < e; ++i) {
      const double d = static_cast<double>(r[i * F + f]) - mean;
      ss += d * d;
    }
    const double sd = sqrt(ss / static_cast<double>(unbiased ? n - 1 : n));
    const bool flat = std_floor > 0.0 && sd <= std_floor * scale;
    for (int64_t i = b; i < e; ++i)
      out[i * F + f] = flat ? T(0) : static_cast<T>((static_cast<double>(r[i * F + f]) - mean) / (sd + eps));
  }
};

// Per-token advantage (Eq. 10): a token inside field f's span [s0, s1) gets A[i, f] (the first
// such field when spans overlap); any other token inside the mask gets the background advantage
// (Eq. 14) (1 - lam) * mean_f A[i, f] + lam * A_rpc[i] (lam = 0 without RPC); padding gets 0.
// In broadcast mode every token inside the mask gets A_seq[i] (plain GRPO).
template <class T> struct RouteTokens {
  const T* A;              // [n, F] standardized field rewards (routed mode)
  const T* A_rpc;          // [n] standardized RPC, or null
  const T* A_seq;          // [n] standardized sequence reward (broadcast mode), or null
  const int64_t* spans;    // [n, F, 2] token spans, end exclusive
  const uint8_t* mask;     // [n, L]
  int64_t F, L;
  double lam;
  T* out;                  // [n, L]
  VR_HD void operator()(int64_t i, int64_t t) const {
    double v = 0.0;
    if (mask[i * L + t]) {
      if (A_seq != nullptr) {
        v = static_cast<double>(A_seq[i]);
      } else {
        bool found = false;
        for (int64_t f = 0; f < F && !found; ++f) {
          const int64_t s0 = spans[(i * F + f) * 2], s1 = spans[(i * F + f) * 2 + 1];
          if (s0 <= t && t < s1) {
            v = static_cast<double>(A[i * F + f]);
            found = true;
          }
        }
        if (!found) {
          double m = 0.0;
          for (int64_t f = 0; f < F; ++f) m += static_cast<double>(A[i * F + f]);
          m /= static_cast<double>(F);
          v = A_rpc != nullptr ? (1.0 - lam) * m + lam * static_cast<double>(A_rpc[i]) : m;
        }
      }
    }
    out[i * L + t] = static_cast<T>(v);
  }
};

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

struct GroupArgs {
  DType dtype = DType::Float32;
  Device device;
  int64_t n = 0, F = 0, num_groups = 0;
  std::uintptr_t rewards = 0, group_ptr = 0, out = 0;
  double eps = 1e-6, std_floor = 1e-6;
  bool unbiased = true, singleton_identity = false;
};

struct RouteArgs {
  DType dtype = DType::Float32;
  Device device;
  int64_t n = 0, F = 0, L = 0;
  std::uintptr_t A = 0, A_rpc = 0, A_seq = 0, spans = 0, mask = 0, out = 0;
  double lam = 0.0;
};

struct SpanArgs {
  Device device;
  int64_t n = 0, F = 0, L = 0;
  std::uintptr_t char_spans = 0, offsets = 0, lengths = 0, out = 0;
};

template <class Exec> void group_standardize(const Exec& ex, const GroupArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    ex.for_each(p.num_groups * p.F, GroupStandardize<T>{ptr<const T>(p.rewards), p.F, ptr<const int64_t>(p.group_ptr),
                                                         ptr<T>(p.out), p.eps, p.std_floor, p.unbiased,
                                                         p.singleton_identity},
                64);
  });
}

template <class Exec> void route_tokens(const Exec& ex, const RouteArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    ex.for_each_2d(p.n, p.L, RouteTokens<T>{ptr<const T>(p.A), ptr<const T>(p.A_rpc), ptr<const T>(p.A_seq),
                                             ptr<const int64_t>(p.spans), ptr<const uint8_t>(p.mask), p.F, p.L,
                                             p.lam, ptr<T>(p.out)});
  });
}

template <class Exec> void char_to_token_spans(const Exec& ex, const SpanArgs& p) {
  ex.for_each(p.n, CharToTokenSpans{ptr<const int64_t>(p.char_spans), ptr<const int64_t>(p.offsets),
                                    ptr<const int64_t>(p.lengths), p.F, p.L, ptr<int64_t>(p.out)},
              256);
}

void group_standardize_cpu(const GroupArgs& p);
void route_tokens_cpu(const RouteArgs& p);
void char_to_token_spans_cpu(const SpanArgs& p);
#ifdef VR_WITH_CUDA
void group_standardize_cuda(const GroupArgs& p);
void route_tokens_cuda(const RouteArgs& p);
void char_to_token_spans_cuda(const SpanArgs& p);
#endif

}  // namespace vr

