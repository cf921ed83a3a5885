// Per-token routed advantages (GRCA Eq. 10, GRCA Eq. 14) in one kernel: group statistics,
// background and routing, with the routing rule written once for the CPU's and the GPU's loops.
#pragma once
#include <algorithm>
#include <cstdint>

#include "grpo/stats.h"

namespace vr {

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

}  // namespace vr
