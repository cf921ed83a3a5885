#include "detection/detection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "common/cpu_exec.h"
#include "match/match.h"

namespace vr {
namespace {

// A score for ordering: NaN is the lowest.
double order_score(double s) { return std::isnan(s) ? -std::numeric_limits<double>::infinity() : s; }

// The AP of one class at one threshold from its detections' hit flags in descending-score order.
double average_precision(const std::vector<char>& hit, int64_t npos, int interpolation, std::vector<double>& rec,
                         std::vector<double>& prec) {
  const size_t nd = hit.size();
  rec.resize(nd), prec.resize(nd);
  double tp = 0.0, fp = 0.0;
  for (size_t i = 0; i < nd; ++i) {
    (hit[i] ? tp : fp) += 1.0;
    rec[i] = tp / static_cast<double>(npos);
    prec[i] = tp / (tp + fp);
  }
  if (interpolation == 1) {  // VOC2007: 11 recalls
    double ap = 0.0;
    for (int i = 0; i <= 10; ++i) {
      const double t = i * 0.1;
      double p = 0.0;
      for (size_t j = 0; j < nd; ++j) if (rec[j] >= t) p = std::max(p, prec[j]);
      ap += p / 11.0;
    }
    return ap;
  }
  for (size_t i = nd; i-- > 1;) prec[i - 1] = std::max(prec[i - 1], prec[i]);  // the envelope
  if (interpolation == 2) {  // the area under it: sum over recall steps
    double ap = 0.0, last = 0.0;
    for (size_t i = 0; i < nd; ++i) {
      if (rec[i] != last) ap += (rec[i] - last) * prec[i];
      last = rec[i];
    }
    return ap;
  }
  double ap = 0.0;  // COCO: 101 recalls, the first detection reaching each
  size_t j = 0;
  for (int i = 0; i <= 100; ++i) {
    const double t = i == 100 ? 1.0 : i * 0.01;
    while (j < nd && rec[j] < t) ++j;
    if (j == nd) break;
    ap += prec[j];
  }
  return ap / 101.0;
}

template <class T> void run(const DetectionArgs& p) {
  const T* pred = ptr<T>(p.pred);
  const T* gt = ptr<T>(p.gt);
  const double* score = ptr<double>(p.scores);
  const int64_t* pl = ptr<int64_t>(p.pred_labels);
  const int64_t* pi = ptr<int64_t>(p.pred_image);
  const int64_t* gl = ptr<int64_t>(p.gt_labels);
  const int64_t* gi = ptr<int64_t>(p.gt_image);
  const double* thr = ptr<double>(p.thresholds);
  double* ap = ptr<double>(p.ap);
  BoxSeq seq{};
  seq.k = p.k, seq.intrinsic = p.intrinsic, seq.unit = p.unit;
  seq.axes[0] = p.axis0, seq.axes[1] = p.axis1, seq.axes[2] = p.axis2;
  // detections by (class, image, descending score, index); ground truth by (class, image, index)
  std::vector<int64_t> dets(static_cast<size_t>(p.D)), gts(static_cast<size_t>(p.T));
  std::iota(dets.begin(), dets.end(), 0);
  std::iota(gts.begin(), gts.end(), 0);
  std::stable_sort(dets.begin(), dets.end(), [&](int64_t a, int64_t b) {
    if (pl[a] != pl[b]) return pl[a] < pl[b];
    if (pi[a] != pi[b]) return pi[a] < pi[b];
    return order_score(score[a]) > order_score(score[b]);
  });
  std::stable_sort(gts.begin(), gts.end(), [&](int64_t a, int64_t b) {
    return gl[a] != gl[b] ? gl[a] < gl[b] : gi[a] < gi[b];
  });
  // where each class begins in both orders
  std::vector<int64_t> dstart(static_cast<size_t>(p.C + 1), 0), gstart(static_cast<size_t>(p.C + 1), 0);
  for (int64_t d : dets) ++dstart[static_cast<size_t>(pl[d] + 1)];
  for (int64_t g : gts) ++gstart[static_cast<size_t>(gl[g] + 1)];
  for (int64_t c = 0; c < p.C; ++c) dstart[c + 1] += dstart[c], gstart[c + 1] += gstart[c];
  const double top = 1.0 - 1e-10;
  parallel_ranges(p.C, 1, [&](int64_t cb, int64_t ce) {
    std::vector<double> iou, rec, prec;
    std::vector<char> taken, hit;
    std::vector<std::vector<char>> hits(static_cast<size_t>(p.K));
    std::vector<int64_t> order;
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t d0 = dstart[c], d1 = dstart[c + 1], g0 = gstart[c], g1 = gstart[c + 1];
      const int64_t npos = g1 - g0;
      for (int64_t k = 0; k < p.K; ++k) hits[k].assign(static_cast<size_t>(d1 - d0), 0);
      // greedy matching image by image (dets of one image are contiguous, in descending score)
      for (int64_t a = d0, g = g0; a < d1;) {
        const int64_t img = pi[dets[a]];
        int64_t b = a;
        while (b < d1 && pi[dets[b]] == img) ++b;
        while (g < g1 && gi[gts[g]] < img) ++g;
        int64_t h = g;
        while (h < g1 && gi[gts[h]] == img) ++h;
        const int64_t nd = b - a, ng = h - g;
        iou.resize(static_cast<size_t>(nd * ng));
        for (int64_t i = 0; i < nd; ++i)
          for (int64_t j = 0; j < ng; ++j)
            iou[i * ng + j] = pair_iou(pred + dets[a + i] * p.width, gt + gts[g + j] * p.width, p.kind, seq);
        for (int64_t k = 0; k < p.K; ++k) {
          taken.assign(static_cast<size_t>(ng), 0);
          const double t = std::min(thr[k], top);
          for (int64_t i = 0; i < nd; ++i) {
            double best = t;
            int64_t m = -1;
            for (int64_t j = 0; j < ng; ++j) {
              if (taken[j] || !(iou[i * ng + j] >= best)) continue;
              best = iou[i * ng + j], m = j;
            }
            if (m >= 0) taken[m] = 1, hits[k][a + i - d0] = 1;
          }
        }
        a = b, g = h;
      }
      // the class's detections in descending score (ties: image, then index)
      order.resize(static_cast<size_t>(d1 - d0));
      std::iota(order.begin(), order.end(), int64_t{0});
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
        const int64_t dx = dets[d0 + x], dy = dets[d0 + y];
        const double sx = order_score(score[dx]), sy = order_score(score[dy]);
        if (sx != sy) return sx > sy;
        return pi[dx] != pi[dy] ? pi[dx] < pi[dy] : dx < dy;
      });
      for (int64_t k = 0; k < p.K; ++k) {
        if (npos == 0) { ap[c * p.K + k] = std::numeric_limits<double>::quiet_NaN(); continue; }
        hit.resize(order.size());
        for (size_t i = 0; i < order.size(); ++i) hit[i] = hits[k][static_cast<size_t>(order[i])];
        ap[c * p.K + k] = average_precision(hit, npos, p.interpolation, rec, prec);
      }
    }
  });
}

}  // namespace

void detection_ap_cpu(const DetectionArgs& p) {
  if (p.dtype == DType::Float32) run<float>(p);
  else run<double>(p);
}

}  // namespace vr
