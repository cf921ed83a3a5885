#include <algorithm>
#include <vector>

#include "common/cpu_exec.h"
#include "match/match.h"

namespace vr {

namespace {
// Per-thread scratch of one sample's matching.
struct MatchScratch {
  std::vector<double> w, cost;
  std::vector<int64_t> rc, rows, cols, row_hits, col_hits, row_last;
  std::vector<Box<3>> boxes;  // axis-aligned kinds: every box loaded once (predictions, then truth)
  std::vector<char> ok;
  Hungarian h;
  void start(int64_t np, int64_t ng) {  // a sample of np predictions and ng ground-truth boxes
    w.assign(static_cast<size_t>(np * ng), 0.0);
    row_hits.assign(static_cast<size_t>(np), 0);
    col_hits.assign(static_cast<size_t>(ng), 0);
    row_last.assign(static_cast<size_t>(np), -1);
  }
  void hit(int64_t i, int64_t j) { ++row_hits[i], ++col_hits[j], row_last[i] = j; }  // a positive IoU at (i, j)
};

// The IoU matrix w [np, ng] of sample s (0 where the labels differ).
template <class T, int D> void aabb_matrix(const MatchArgs& p, int64_t s, int64_t np, int64_t ng, MatchScratch& m) {
  const T* pred = ptr<const T>(p.pred) + s * p.P * p.width;
  const T* gt = ptr<const T>(p.gt) + s * p.G * p.width;
  const int64_t* pl = ptr<const int64_t>(p.pred_labels);
  const int64_t* gl = ptr<const int64_t>(p.gt_labels);
  m.boxes.resize(static_cast<size_t>(np + ng));
  m.ok.resize(static_cast<size_t>(np + ng));
  for (int64_t i = 0; i < np + ng; ++i) {
    Box<D> b;
    const bool ok = load_box<D>(i < np ? pred + i * p.width : gt + (i - np) * p.width, b);
    for (int k = 0; k < D; ++k) m.boxes[i].lo[k] = b.lo[k], m.boxes[i].hi[k] = b.hi[k];
    m.ok[i] = ok;
  }
  for (int64_t i = 0; i < np; ++i) {
    if (!m.ok[i]) continue;
    Box<D> a;
    for (int k = 0; k < D; ++k) a.lo[k] = m.boxes[i].lo[k], a.hi[k] = m.boxes[i].hi[k];
    for (int64_t j = 0; j < ng; ++j) {
      if (!m.ok[np + j] || (pl != nullptr && gl != nullptr && pl[s * p.P + i] != gl[s * p.G + j])) continue;
      const Box<3>& gj = m.boxes[np + j];
      bool apart = false;  // most pairs of a scene do not touch: IoU 0 without the division
      for (int k = 0; k < D; ++k) apart = apart || !(vmin(a.hi[k], gj.hi[k]) > vmax(a.lo[k], gj.lo[k]));
      if (apart) continue;
      Box<D> g;
      for (int k = 0; k < D; ++k) g.lo[k] = gj.lo[k], g.hi[k] = gj.hi[k];
      const double v = box_iou<D>(a, g);
      m.w[i * ng + j] = v;
      if (v > 0.0) m.hit(i, j);
    }
  }
}

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
  MatchScratch m;
  for (int64_t s = b; s < e; ++s) {
    const int64_t np = std::min(std::max<int64_t>(pc[s], 0), p.P), ng = std::min(std::max<int64_t>(gc[s], 0), p.G);
    for (int64_t i = 0; i < p.P; ++i) assign[s * p.P + i] = -1, iou_out[s * p.P + i] = T(0);
    if (np == 0 || ng == 0) continue;
    m.start(np, ng);
    if (p.kind == 0) {
      aabb_matrix<T, 2>(p, s, np, ng, m);
    } else if (p.kind == 1) {
      aabb_matrix<T, 3>(p, s, np, ng, m);
    } else {
      for (int64_t i = 0; i < np; ++i)
        for (int64_t j = 0; j < ng; ++j) {
          if (pl != nullptr && gl != nullptr && pl[s * p.P + i] != gl[s * p.G + j]) continue;
          const double v = pair_iou(pred + (s * p.P + i) * p.width, gt + (s * p.G + j) * p.width, p.kind, seq);
          m.w[i * ng + j] = v;
          if (v > 0.0) m.hit(i, j);
        }
    }
    // Rows and columns without a positive IoU can only be matched at 0: they are left out (the
    // optimum's total is the same). When what is left pairs off (one positive per row and per
    // column), those pairs are the assignment; otherwise the Hungarian method solves the rest.
    m.rows.clear();
    m.cols.clear();
    bool paired = true;
    for (int64_t i = 0; i < np; ++i)
      if (m.row_hits[i] > 0) m.rows.push_back(i), paired = paired && m.row_hits[i] == 1;
    for (int64_t j = 0; j < ng; ++j)
      if (m.col_hits[j] > 0) m.cols.push_back(j), paired = paired && m.col_hits[j] == 1;
    if (m.rows.empty()) continue;
    if (paired) {
      for (int64_t i : m.rows) {
        const int64_t j = m.row_last[i];
        assign[s * p.P + i] = j, iou_out[s * p.P + i] = static_cast<T>(m.w[i * ng + j]);
      }
      continue;
    }
    // the reduced problem, rows the smaller side
    const int64_t nr = static_cast<int64_t>(m.rows.size()), nc = static_cast<int64_t>(m.cols.size());
    const bool flip = nr > nc;
    const int64_t rows = flip ? nc : nr, cols = flip ? nr : nc;
    m.cost.resize(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t i = m.rows[flip ? c : r], j = m.cols[flip ? r : c];
        m.cost[r * cols + c] = -m.w[i * ng + j];
      }
    m.rc.assign(static_cast<size_t>(rows), -1);
    m.h.solve(m.cost.data(), rows, cols, m.rc.data());
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t c = m.rc[static_cast<size_t>(r)];
      if (c < 0) continue;
      const int64_t i = m.rows[flip ? c : r], j = m.cols[flip ? r : c];
      const double v = m.w[i * ng + j];
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
