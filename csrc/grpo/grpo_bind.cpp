// The Python binding of grpo/grpo.h (verireward._C): argument classes and checked entry points.
#include "common/bind.h"
#include "grpo/grpo.h"

namespace vr {

void bind_grpo(py::module_& m) {
  VR_BIND_ARGS(m, StdSettings, VR_STD_SETTINGS);
  m.attr("GROUP_STATS_BYTES") = sizeof(GroupStats);
  VR_BIND_ARGS(m, GroupArgs, VR_GROUP_ARGS);
  VR_BIND_ARGS(m, RouteArgs, VR_ROUTE_ARGS);
  VR_BIND_ARGS(m, SpanArgs, VR_SPAN_ARGS);
  m.def("group_standardize", [](const GroupArgs& p) {
    // each array's pointer is required when the array has elements, whatever the others hold
    const int64_t total = elements("group_standardize", {p.n, p.F});
    require(p.num_groups >= 0, "group_standardize", "negative size");
    elements("group_standardize", {p.num_groups + 1, p.F});
    require(p.n == 0 || p.num_groups >= 1, "group_standardize", "no group");
    require_ptrs("group_standardize", total, {p.rewards, p.out});
    require_ptrs("group_standardize", p.num_groups + 1, {p.group_ptr});  // [num_groups + 1] entries
    require(p.st.scale >= kScaleGroup && p.st.scale <= kScaleNone, "group_standardize", "unknown scale");
    require(p.st.scale != kScaleBatch || p.F == 0 || p.batch_stats != 0, "group_standardize",
            "the batch scale needs batch_stats");
    VR_DEVICE_DISPATCH(p.device, group_standardize, p);
  }, nogil());
  m.def("routed_advantages", [](const RouteArgs& p) {
    require(p.F >= 1, "routed_advantages", "needs F >= 1");
    const int64_t tokens = elements("routed_advantages", {p.n, p.L});
    const int64_t spans = elements("routed_advantages", {p.n, p.F, 2});
    require(p.num_groups >= 0, "routed_advantages", "negative size");
    elements("routed_advantages", {p.num_groups + 1});
    require(p.n == 0 || p.num_groups >= 1, "routed_advantages", "no group");
    require(p.st.scale == kScaleGroup || p.st.scale == kScaleNone || p.st.given, "routed_advantages",
            "scale must be group or none (the batch scale routes given advantages)");
    // each array's pointer is required when the array has elements (rpc is optional; broadcast
    // mode reads no spans), whatever the others hold: L = 0 still reads the rewards
    require_ptrs("routed_advantages", spans / 2, {p.rewards});
    if (!p.broadcast) require_ptrs("routed_advantages", spans, {p.spans});
    require_ptrs("routed_advantages", tokens, {p.mask, p.out});
    require_ptrs("routed_advantages", p.num_groups + 1, {p.group_ptr});
    VR_DEVICE_DISPATCH(p.device, routed_advantages, p);
  }, nogil());
  m.def("char_to_token_spans", [](const SpanArgs& p) {
    const int64_t rows = elements("char_to_token_spans", {p.n, p.L + 1});
    const int64_t fields = elements("char_to_token_spans", {p.n, p.F, 2});
    require(p.L >= 0, "char_to_token_spans", "negative size");
    require_ptrs("char_to_token_spans", rows, {p.offsets, p.lengths});
    require_ptrs("char_to_token_spans", fields, {p.char_spans, p.out});
    VR_DEVICE_DISPATCH(p.device, char_to_token_spans, p);
  }, nogil());
}

}  // namespace vr
