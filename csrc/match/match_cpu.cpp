#include <algorithm>
#include <vector>

#include "common/cpu_exec.h"
#include "match/match.h"

namespace vr {

namespace {
template <class T> void match_rows(const MatchArgs& p, int64_t b, int64_t e) {
  const BoxSeq seq = box_seq_of(p);
  const T* pred = ptr<const T>(p.pred);
  const T* gt = ptr<const T>(p.gt);
  const int64_t* pc = ptr<const int64_t>(p.pred_counts);
  const int64_t* gc = ptr<const int64_t>(p.gt_counts);
  const int64_t* pl = ptr<const int64_t>(p.pred_labels);
  const int64_t* gl = ptr<const int64_t>(p.gt_labels);
  int64_t* assign = ptr<int64_t>(p.assignment);
  T* iou_out = ptr<T>(p.iou);
  std::vector<double> w, cost;
  std::vector<int64_t> rc;
  Hungarian h;
  for (int64_t s = b; s < e; ++s) {
    const int64_t np = std::min(std::max<int64_t>(pc[s], 0), p.P), ng = std::min(std::max<int64_t>(gc[s], 0), p.G);
    for (int64_t i = 0; i < p.P; ++i) assign[s * p.P + i] = -1, iou_out[s * p.P + i] = T(0);
    if (np == 0 || ng == 0) continue;
    w.assign(static_cast<size_t>(np * ng), 0.0);
    for (int64_t i = 0; i < np; ++i)
      for (int64_t j = 0; j < ng; ++j) {
        if (pl != nullptr && gl != nullptr && pl[s * p.P + i] != gl[s * p.G + j]) continue;
        w[i * ng + j] = pair_iou(pred + (s * p.P + i) * p.width, gt + (s * p.G + j) * p.width, p.kind, seq);
      }
    // rows are the smaller side
    const bool flip = np > ng;
    const int64_t rows = flip ? ng : np, cols = flip ? np : ng;
    cost.assign(static_cast<size_t>(rows * cols), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) cost[r * cols + c] = -(flip ? w[c * ng + r] : w[r * ng + c]);
    rc.assign(static_cast<size_t>(rows), -1);
    h.solve(cost.data(), rows, cols, rc.data());
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t c = rc[static_cast<size_t>(r)];
      if (c < 0) continue;
      const int64_t i = flip ? c : r, j = flip ? r : c;
      const double v = w[i * ng + j];
      if (v > 0.0) assign[s * p.P + i] = j, iou_out[s * p.P + i] = static_cast<T>(v);
    }
  }
}
}  // namespace

void match_boxes_cpu(const MatchArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    parallel_ranges(p.n, 16, [&](int64_t b, int64_t e) { match_rows<T>(p, b, e); });
  });
}

}  // namespace vr
