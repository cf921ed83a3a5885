#include <vector>

#include "common/cpu_exec.h"
#include "common/cpu_features.h"
#include "grpo/grpo.h"

namespace vr {
void group_standardize_cpu(const GroupArgs& p) { group_standardize(CpuExec{}, p); }
// The scalar path runs the GPU's per-token functor; the other paths the per-row loop. Both place
// advantages with the one routing rule (route_token), and test_cpu_paths checks they agree bitwise.
void routed_advantages_cpu(const RouteArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    const auto f = routed_functor<decltype(t)>(p);
    if (cpu_path() == CpuPath::Scalar) return CpuExec{}.for_each_2d(p.n, p.L, f, 4096);
    parallel_ranges(p.n, 16, [&f, &p](int64_t b, int64_t e) {
      std::vector<double> field_adv(static_cast<size_t>(p.F));
      std::vector<int64_t> cuts(static_cast<size_t>(2 * p.F + 2));
      for (int64_t i = b; i < e; ++i) f.row(i, field_adv.data(), cuts.data());
    });
  });
}
void char_to_token_spans_cpu(const SpanArgs& p) { char_to_token_spans(CpuExec{}, p); }
}  // namespace vr
