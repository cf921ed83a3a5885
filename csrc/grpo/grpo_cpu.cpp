#include "common/cpu_exec.h"
#include "grpo/grpo.h"

namespace vr {
void group_standardize_cpu(const GroupArgs& p) { group_standardize(CpuExec{}, p); }
void route_tokens_cpu(const RouteArgs& p) { route_tokens(CpuExec{}, p); }
void char_to_token_spans_cpu(const SpanArgs& p) { char_to_token_spans(CpuExec{}, p); }
}  // namespace vr
