// Group-relative advantages (GRCA Eq. 9, GRCA Eq. 10, GRCA Eq. 14; the statistics core AP-GRPO reuses) and the
// alignment of character spans to token spans.
//
// Groups are contiguous rows given by a CSR pointer: group g is rows [ptr[g], ptr[g+1]).
// Standardization of column f of group g:  A_i = (r_i - mean) / (std + eps), with the mean and the
// standard deviation (unbiased by default) accumulated in double, two-pass, on values scaled by a
// power of two so that no finite input overflows. A group whose values are all equal gets 0 under
// every setting; so does one equal up to rounding — std <= std_floor * max_i |r_i| — (float32
// residue must never become advantages of thousands; std_floor = 0 keeps only the exact rule). A
// group of one row gets 0, or in verl's convention (singleton_identity) mean 0 and std 1.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/abi.h"
#include "common/macros.h"

namespace vr {

// Statistics of one column over the rows [b, e) of a group; x(j) reads row j's value.
// Overflow-free for every finite input: the values are scaled by 2^-exp (exp: the binary exponent
// of max |x|, so the scaled values lie in (-1, 1) and the scaling is exact) before they are summed.
// Every later step works on the scaled values, so (x - mean) / (sd + eps) is computed as
// (x_s - mean_s) / (sd_s + eps_s): the same number, rounding for rounding, for values in range.
struct GroupStats {
  double mean_s = 0.0, sd_s = 0.0;  // mean and standard deviation of the scaled values
  int exp = 0;                      // value = scaled value * 2^exp
  double down1 = 1.0, down2 = 1.0;  // 2^-exp as two factors (2^1073 is not a double): exact scaling
  double eps_s = 0.0;               // eps * 2^-exp
  int64_t n = 0;                    // values counted (NaN excluded when skip_nan)
  bool flat = false;  // all values equal, or equal up to rounding (sd <= std_floor * max |x|)
  VR_HD double scaled(double v) const { return v * down1 * down2; }  // v * 2^-exp, exactly
};

// How a group's values become advantages (GRCA Eq. 9; TRL's and verl's variants).
//   scale = kScaleGroup: (r - mean_g) / (sd_g + eps)
//           kScaleBatch: (r - mean_g) / (sd_batch + eps), sd_batch over every row (TRL's "batch")
//           kScaleNone:  r - mean_g (Dr.GRPO; TRL's "none", verl's norm_adv_by_std_in_grpo=False)
// A flat group gives 0 under every scale. A group of one gives 0, or with singleton_identity
// verl's mean 0 and sd 1: r / singleton_div (verl's float32 1 + 1e-6), r itself under kScaleNone.
// skip_nan (TRL's unscorable completions): NaN values are left out of the statistics and get 0.
constexpr int kScaleGroup = 0, kScaleBatch = 1, kScaleNone = 2;

#define VR_STD_SETTINGS(X)                                                                    \
  X(double, eps, 1e-6)                                                                        \
  X(double, std_floor, 1e-6)                                                                  \
  X(bool, unbiased, true)                                                                     \
  X(bool, singleton_identity, false)                                                          \
  X(double, singleton_div, 1.0 + 1e-6)                                                        \
  X(bool, given, false)    /* the values are advantages already (standardized elsewhere) */   \
  X(bool, skip_nan, false)                                                                    \
  X(int, scale, kScaleGroup)
struct StdSettings {
  VR_STD_SETTINGS(VR_ARG_MEMBER)

  template <class X> VR_HD GroupStats stats(const X& x, int64_t b, int64_t e) const {
    GroupStats s;
    double amax = 0.0, lo = 0.0, hi = 0.0;
    for (int64_t j = b; j < e; ++j) {
      const double v = x(j);
      if (skip_nan && v != v) continue;
      if (s.n == 0) lo = hi = v;
      ++s.n;
      amax = vmax(amax, vmax(v, -v));
      lo = vmin(lo, v);
      hi = vmax(hi, v);
    }
    if (s.n < 2) return s;
    s.flat = lo == hi;  // exactly equal: 0 whatever eps and std_floor are
    if (s.flat) return s;
    frexp(amax, &s.exp);
    const int k = -s.exp, k1 = k > 1000 ? 1000 : k;
    s.down1 = ldexp(1.0, k1);
    s.down2 = ldexp(1.0, k - k1);
    s.eps_s = eps * s.down1 * s.down2;
    for (int64_t j = b; j < e; ++j) {
      const double v = x(j);
      if (!(skip_nan && v != v)) s.mean_s += s.scaled(v);
    }
    s.mean_s /= static_cast<double>(s.n);
    double ss = 0.0;
    for (int64_t j = b; j < e; ++j) {
      const double v = x(j);
      if (skip_nan && v != v) continue;
      const double d = s.scaled(v) - s.mean_s;
      ss += d * d;
    }
    s.sd_s = sqrt(ss / static_cast<double>(unbiased ? s.n - 1 : s.n));
    s.flat = s.sd_s == 0.0 || (std_floor > 0.0 && s.sd_s <= std_floor * s.scaled(amax));
    return s;
  }
  // The advantage of v, a member of the group the statistics describe; `batch` describes every row
  // of the column (read only under kScaleBatch).
  VR_HD double standardize(double v, const GroupStats& s, const GroupStats& batch) const {
    if (v != v) return 0.0;  // only reachable with skip_nan: an unscorable row
    if (s.n == 1) return singleton_identity ? (scale == kScaleNone ? v : v / singleton_div) : 0.0;
    if (s.n < 1 || s.flat) return 0.0;
    const double d = s.scaled(v) - s.mean_s;
    if (scale == kScaleNone) return ldexp(d, s.exp);
    if (scale == kScaleBatch) {
      if (batch.n < 2 || batch.flat) return 0.0;
      return ldexp(d, s.exp - batch.exp) / (batch.sd_s + batch.eps_s);
    }
    return d / (s.sd_s + s.eps_s);
  }
  VR_HD double standardize(double v, const GroupStats& s) const { return standardize(v, s, GroupStats{}); }
  // Row i's advantage in its group [b, e): x(i) itself when the values are advantages already.
  template <class X> VR_HD double advantage(const X& x, int64_t i, int64_t b, int64_t e) const {
    return given ? x(i) : standardize(x(i), stats(x, b, e));
  }
};

// A double result stored as T, saturating instead of overflowing to infinity (kScaleNone's
// r - mean can exceed float32's range for finite float32 rewards).
template <class T> VR_HD T saturate(double v) {
  const double top = sizeof(T) == 4 ? 3.4028234663852886e38 : 1.7976931348623157e308;
  return static_cast<T>(vmin(vmax(v, -top), top));
}

// The group of row i: the last g with ptr[g] <= i (empty groups are skipped), by bisection.
VR_HD inline int64_t group_of(const int64_t* ptr, int64_t num_groups, int64_t i) {
  int64_t lo = 0, hi = num_groups - 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (ptr[mid] <= i) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// Standardization per group and column; with `absolute` (AP-GRPO, SmoothOp Eq. 8) each
// standardized value is multiplied by absolute[i, f]^alpha (pow(0, 0) = 1, so alpha = 0 is GRPO)
// and the product clipped to [-clip, clip] (clip = +inf: no clipping). Under kScaleBatch,
// `batch` [F] holds each column's statistics over all rows (ColumnStats, run first).
template <class T> struct GroupStandardize {
  const T* r;            // [n, F]
  const T* absolute;     // [n, F] or null
  int64_t F;
  const int64_t* ptr;    // [groups + 1]
  const GroupStats* batch;  // [F] or null
  T* out;                // [n, F]
  StdSettings st;
  double alpha, clip;
  VR_HD void operator()(int64_t k) const {  // k = group * F + column
    const int64_t g = k / F, f = k % F, b = ptr[g], e = ptr[g + 1];
    const T* col = r + f;
    const int64_t stride = F;
    const auto x = [col, stride](int64_t j) { return static_cast<double>(col[j * stride]); };
    const GroupStats s = st.stats(x, b, e);
    const GroupStats all = batch != nullptr ? batch[f] : GroupStats{};
    for (int64_t i = b; i < e; ++i) {
      double a = st.standardize(x(i), s, all);
      if (absolute != nullptr) {
        const double r_abs = static_cast<double>(absolute[i * F + f]);  // exact special cases: no pow call
        a *= alpha == 1.0 ? r_abs : alpha == 0.0 ? 1.0 : pow(r_abs, alpha);
        a = vmin(vmax(a, -clip), clip);
      }
      out[i * F + f] = saturate<T>(a);
    }
  }
};

// The statistics of each column over all n rows (kScaleBatch's standard deviation).
template <class T> struct ColumnStats {
  const T* r;  // [n, F]
  int64_t n, F;
  StdSettings st;
  GroupStats* out;  // [F]
  VR_HD void operator()(int64_t f) const {
    const T* col = r + f;
    const int64_t stride = F;
    out[f] = st.stats([col, stride](int64_t j) { return static_cast<double>(col[j * stride]); }, 0, n);
  }
};

// Per-token advantages in one kernel (GRCA Eq. 9, GRCA Eq. 10, GRCA Eq. 14). Routed mode: a token inside field f's span
// [s0, s1) gets A_f, the standardization of r[i, f] within i's group (the first such field when
// spans overlap); any other token inside the mask gets the background advantage
// (1 - lam) * mean_f A_f + lam * A_rpc (lam = 0 without RPC); padding gets 0. Broadcast mode: every
// token inside the mask gets the standardization of the sequence reward
// mean_f r[i, f] (mixed (1 - lam) : lam with RPC when given).
// The group statistics are recomputed where they are needed (per row on the CPU, per token on the
// GPU): a group is a few rows of a few fields, so this costs less than a second launch and an
// [N, F] intermediate in global memory.
template <class T> struct RoutedAdvantages {
  const T* r;              // [n, F] field rewards
  const T* r_rpc;          // [n] RPC rewards, or null
  const int64_t* spans;    // [n, F, 2] token spans, end exclusive
  const uint8_t* mask;     // [n, L]
  const int64_t* ptr;      // [num_groups + 1]
  int64_t num_groups, F, L;
  double lam;
  bool broadcast;
  StdSettings st;
  T* out;                  // [n, L]

  VR_HD double field(int64_t i, int64_t f, int64_t b, int64_t e) const {
    const T* col = r + f;
    const int64_t stride = F;
    const auto x = [col, stride](int64_t j) { return static_cast<double>(col[j * stride]); };
    return st.advantage(x, i, b, e);
  }
  VR_HD double rpc_adv(int64_t i, int64_t b, int64_t e) const {
    const T* q = r_rpc;
    const auto x = [q](int64_t j) { return static_cast<double>(q[j]); };
    return st.advantage(x, i, b, e);
  }
  VR_HD double sequence(int64_t i, int64_t b, int64_t e) const {
    const RoutedAdvantages* self = this;
    const auto x = [self](int64_t j) {
      double m = 0.0;  // each term divided first: no finite rewards overflow the sum
      for (int64_t f = 0; f < self->F; ++f) m += static_cast<double>(self->r[j * self->F + f]) / static_cast<double>(self->F);
      return self->r_rpc != nullptr ? (1.0 - self->lam) * m + self->lam * static_cast<double>(self->r_rpc[j]) : m;
    };
    return st.advantage(x, i, b, e);
  }
  // GRCA Eq. 14's background from the row's field advantages adv(f) (the one place it is written).
  template <class A> VR_HD double background_of(const A& adv, int64_t i, int64_t b, int64_t e) const {
    double m = 0.0;
    for (int64_t f = 0; f < F; ++f) m += adv(f) / static_cast<double>(F);
    return r_rpc != nullptr ? (1.0 - lam) * m + lam * rpc_adv(i, b, e) : m;
  }
  VR_HD double background(int64_t i, int64_t b, int64_t e) const {
    const RoutedAdvantages* self = this;
    return background_of([self, i, b, e](int64_t f) { return self->field(i, f, b, e); }, i, b, e);
  }
  VR_HD int64_t field_of(int64_t i, int64_t t) const {  // the first field whose span holds t, or -1
    for (int64_t f = 0; f < F; ++f)
      if (spans[(i * F + f) * 2] <= t && t < spans[(i * F + f) * 2 + 1]) return f;
    return -1;
  }

  // The routing rule, written once: padding gets 0; in broadcast mode every token gets the
  // sequence value; otherwise a token inside a field's span gets that field's advantage (the first
  // such field, field_of) and any other token the background. `owner` is field_of(i, t) (unused
  // in broadcast mode); advantage(f) and base() are evaluated only when the rule needs them.
  template <class FieldAdv, class Base>
  VR_HD double token_value(bool in_mask, int64_t owner, const FieldAdv& advantage, const Base& base) const {
    if (!in_mask) return 0.0;
    if (broadcast || owner < 0) return base();
    return advantage(owner);
  }

  // One token (the GPU's unit of work; the CPU's scalar path runs it too, so that a CPU test sees
  // the code the GPU runs): the group statistics are recomputed where they are needed.
  VR_HD void operator()(int64_t i, int64_t t) const {
    const int64_t g = group_of(ptr, num_groups, i), b = ptr[g], e = ptr[g + 1];
    const RoutedAdvantages* self = this;
    const auto advantage = [self, i, b, e](int64_t f) { return self->field(i, f, b, e); };
    const auto base = [self, i, b, e]() { return self->broadcast ? self->sequence(i, b, e) : self->background(i, b, e); };
    const int64_t owner = broadcast ? -1 : field_of(i, t);
    out[i * L + t] = saturate<T>(token_value(mask[i * L + t] != 0, owner, advantage, base));
  }

  // One row (the CPU's SIMD-path unit of work): each advantage is computed once for the row; the
  // owner of a token changes only at span boundaries, so field_of is evaluated once per run of
  // tokens between consecutive boundaries, then the same rule places the values.
  void row(int64_t i, double* field_adv, int64_t* cuts) const {  // scratch: field_adv [F], cuts [2F + 2]
    const int64_t g = group_of(ptr, num_groups, i), b = ptr[g], e = ptr[g + 1];
    if (!broadcast)
      for (int64_t f = 0; f < F; ++f) field_adv[f] = field(i, f, b, e);
    const auto advantage = [field_adv](int64_t f) { return field_adv[f]; };
    const double base_v = broadcast ? sequence(i, b, e) : background_of(advantage, i, b, e);
    const auto base = [base_v]() { return base_v; };
    int64_t k = 0;
    cuts[k++] = 0;
    cuts[k++] = L;
    if (!broadcast)
      for (int64_t f = 0; f < 2 * F; ++f) cuts[k++] = vmin<int64_t>(vmax<int64_t>(spans[i * F * 2 + f], 0), L);
    std::sort(cuts, cuts + k);
    const uint8_t* m = mask + i * L;
    T* o = out + i * L;
    for (int64_t c = 0; c + 1 < k; ++c) {
      const int64_t t0 = cuts[c], t1 = cuts[c + 1];
      if (t0 >= t1) continue;
      const int64_t owner = broadcast ? -1 : field_of(i, t0);
      const T inside = saturate<T>(token_value(true, owner, advantage, base));
      for (int64_t t = t0; t < t1; ++t) o[t] = m[t] ? inside : T(0);  // token_value(false, ...) is 0
    }
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

#define VR_GROUP_ARGS(X)                                                              \
  X(DType, dtype, DType::Float32)                                                     \
  X(Device, device, Device{})                                                         \
  X(int64_t, n, 0)                                                                    \
  X(int64_t, F, 0)                                                                    \
  X(int64_t, num_groups, 0)                                                           \
  X(std::uintptr_t, rewards, 0)                                                       \
  X(std::uintptr_t, group_ptr, 0)                                                     \
  X(std::uintptr_t, out, 0)                                                           \
  X(StdSettings, st, StdSettings{})                                                   \
  X(std::uintptr_t, absolute, 0)    /* AP-GRPO's absolute term, or 0 */               \
  X(double, alpha, 1.0)                                                               \
  X(double, clip, 1.5)                                                                \
  X(std::uintptr_t, batch_stats, 0) /* GroupStats [F] scratch, needed under kScaleBatch */
struct GroupArgs { VR_GROUP_ARGS(VR_ARG_MEMBER) };

#define VR_ROUTE_ARGS(X)              \
  X(DType, dtype, DType::Float32)     \
  X(Device, device, Device{})         \
  X(int64_t, n, 0)                    \
  X(int64_t, F, 0)                    \
  X(int64_t, L, 0)                    \
  X(int64_t, num_groups, 0)           \
  X(std::uintptr_t, rewards, 0)       \
  X(std::uintptr_t, rpc, 0)           \
  X(std::uintptr_t, spans, 0)         \
  X(std::uintptr_t, mask, 0)          \
  X(std::uintptr_t, group_ptr, 0)     \
  X(std::uintptr_t, out, 0)           \
  X(double, lam, 0.0)                 \
  X(bool, broadcast, false)           \
  X(StdSettings, st, StdSettings{})
struct RouteArgs { VR_ROUTE_ARGS(VR_ARG_MEMBER) };

#define VR_SPAN_ARGS(X)               \
  X(Device, device, Device{})         \
  X(int64_t, n, 0)                    \
  X(int64_t, F, 0)                    \
  X(int64_t, L, 0)                    \
  X(std::uintptr_t, char_spans, 0)    \
  X(std::uintptr_t, offsets, 0)       \
  X(std::uintptr_t, lengths, 0)       \
  X(std::uintptr_t, out, 0)
struct SpanArgs { VR_SPAN_ARGS(VR_ARG_MEMBER) };

template <class Exec> void group_standardize(const Exec& ex, const GroupArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    GroupStats* batch = nullptr;
    if (p.st.scale == kScaleBatch) {
      batch = ptr<GroupStats>(p.batch_stats);
      ex.for_each(p.F, ColumnStats<T>{ptr<const T>(p.rewards), p.n, p.F, p.st, batch}, 1);
    }
    ex.for_each(p.num_groups * p.F,
                GroupStandardize<T>{ptr<const T>(p.rewards), ptr<const T>(p.absolute), p.F, ptr<const int64_t>(p.group_ptr),
                                    batch, ptr<T>(p.out), p.st, p.alpha, p.clip},
                64);
  });
}

template <class T> RoutedAdvantages<T> routed_functor(const RouteArgs& p) {
  return RoutedAdvantages<T>{ptr<const T>(p.rewards), ptr<const T>(p.rpc), ptr<const int64_t>(p.spans),
                             ptr<const uint8_t>(p.mask), ptr<const int64_t>(p.group_ptr), p.num_groups, p.F, p.L,
                             p.lam, p.broadcast, p.st, ptr<T>(p.out)};
}

template <class Exec> void char_to_token_spans(const Exec& ex, const SpanArgs& p) {
  ex.for_each(p.n, CharToTokenSpans{ptr<const int64_t>(p.char_spans), ptr<const int64_t>(p.offsets),
                                    ptr<const int64_t>(p.lengths), p.F, p.L, ptr<int64_t>(p.out)},
              256);
}

void group_standardize_cpu(const GroupArgs& p);
void routed_advantages_cpu(const RouteArgs& p);
void char_to_token_spans_cpu(const SpanArgs& p);
#ifdef VR_WITH_CUDA
void group_standardize_cuda(const GroupArgs& p);
void routed_advantages_cuda(const RouteArgs& p);
void char_to_token_spans_cuda(const SpanArgs& p);
#endif

}  // namespace vr

