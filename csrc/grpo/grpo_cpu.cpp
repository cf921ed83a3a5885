#include "common/cpu_exec.h"
#include "grpo/grpo.h"

namespace vr {
void group_standardize_cpu(const GroupArgs& p) { group_standardize(CpuExec{}, p); }
void routed_advantages_cpu(const RouteArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    const auto f = routed_functor<decltype(t)>(p);
    CpuExec{}.for_each(p.n, [&f](int64_t i) { f.row(i); }, 16);
  });
}
void char_to_token_spans_cpu(const SpanArgs& p) { char_to_token_spans(CpuExec{}, p); }
}  // namespace vr
