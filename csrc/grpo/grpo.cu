#include "common/cuda_exec.cuh"
#include "grpo/grpo.h"

namespace vr {
void group_standardize_cuda(const GroupArgs& p) { group_standardize(CudaExec{p.device}, p); }
void route_tokens_cuda(const RouteArgs& p) { route_tokens(CudaExec{p.device}, p); }
void char_to_token_spans_cuda(const SpanArgs& p) { char_to_token_spans(CudaExec{p.device}, p); }
}  // namespace vr
