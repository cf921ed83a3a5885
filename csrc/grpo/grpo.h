// Group-relative advantages and span alignment: the argument structs and the CPU/CUDA entry
// points of group_standardize (grpo/stats.h), routed_advantages (grpo/route.h) and
// char_to_token_spans (grpo/spans.h).
#pragma once
#include <cstdint>

#include "common/abi.h"
#include "grpo/route.h"
#include "grpo/spans.h"
#include "grpo/stats.h"

namespace vr {

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

