// Group statistics and standardization (GRCA Eq. 9; the core AP-GRPO, SmoothOp Eq. 8, reuses).
//
// Groups are contiguous rows given by a CSR pointer: group g is rows [ptr[g], ptr[g+1]).
// Standardization of column f of group g:  A_i = (r_i - mean) / (std + eps), with the mean and the
// standard deviation (unbiased by default) accumulated in double, two-pass, on values scaled by a
// power of two so that no finite input overflows. A group whose values are all equal gets 0 under
// every setting; so does one equal up to rounding — std <= std_floor * max_i |r_i| — (float32
// residue must never become advantages of thousands; std_floor = 0 keeps only the exact rule). A
// group of one row gets 0, or in verl's convention (singleton_identity) mean 0 and std 1.
#pragma once
#pragma once
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

}  // namespace vr
