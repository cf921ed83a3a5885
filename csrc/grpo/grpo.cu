#include "common/cuda_exec.cuh"
#include "grpo/grpo.h"

namespace vr {
void group_standardize_cuda(const GroupArgs& p) { group_standardize(CudaExec{p.device}, p); }
void routed_advantages_cuda(const RouteArgs& p) {
  dispatch_float(p.dtype, [&](auto t) { CudaExec{p.device}.for_each_2d(p.n, p.L, routed_functor<decltype(t)>(p)); });
}
void char_to_token_spans_cuda(const SpanArgs& p) { char_to_token_spans(CudaExec{p.device}, p); }
}  // namespace vr
