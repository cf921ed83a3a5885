#include "detection/detection.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/cpu_exec.h"

namespace vr {
namespace {

// A score's ordering key: increasing with the score, -0 equal to +0, and a NaN below every
// number, -inf included (it ranks last, as COCOeval ranks it).
uint64_t order_score(double s) {
  if (std::isnan(s)) return 0;
  if (s == 0.0) s = 0.0;
  uint64_t bits;
  std::memcpy(&bits, &s, sizeof bits);
  return (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);  // -inf: 0x000F...F > 0
}

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

struct Ranked {
  uint64_t score;  // order_score
  int64_t slot;
};

// The indices 0..n-1 ordered by (major, minor, index): counting sort by minor, then stably by major.
std::vector<int64_t> counting_order(int64_t n, const int64_t* minor, const int64_t* major, int64_t n_minor, int64_t n_major) {
  std::vector<int64_t> by_minor(static_cast<size_t>(n)), out(static_cast<size_t>(n));
  std::vector<int64_t> start(static_cast<size_t>(std::max(n_minor, n_major) + 1));
  auto pass = [&](const int64_t* key, int64_t buckets, const int64_t* in, int64_t* dst) {
    std::fill(start.begin(), start.begin() + buckets + 1, 0);
    for (int64_t i = 0; i < n; ++i) ++start[static_cast<size_t>(key[in ? in[i] : i] + 1)];
    for (int64_t b = 0; b < buckets; ++b) start[b + 1] += start[b];
    for (int64_t i = 0; i < n; ++i) {
      const int64_t idx = in ? in[i] : i;
      dst[start[static_cast<size_t>(key[idx])]++] = idx;
    }
  };
  pass(minor, n_minor, nullptr, by_minor.data());
  pass(major, n_major, by_minor.data(), out.data());
  return out;
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
  const BoxSeq seq = box_seq_of(p);
  // detections by (class, image, descending score, index); ground truth by (class, image, index):
  // two stable counting passes (image, then class), then each (class, image) run by score
  int64_t images = 0;
  for (int64_t i = 0; i < p.D; ++i) images = std::max(images, pi[i] + 1);
  for (int64_t i = 0; i < p.T; ++i) images = std::max(images, gi[i] + 1);
  std::vector<int64_t> dets = counting_order(p.D, pi, pl, images, p.C);
  std::vector<int64_t> gts = counting_order(p.T, gi, gl, images, p.C);
  // the (class, image) runs of detections and the ground truth of the same class and image; each
  // run of detections is then put in descending score
  struct Run { int64_t a, b, g, h; };
  std::vector<Run> runs;
  for (int64_t a = 0, g = 0; a < p.D;) {
    const int64_t c = pl[dets[a]], img = pi[dets[a]];
    int64_t b = a + 1;
    while (b < p.D && pl[dets[b]] == c && pi[dets[b]] == img) ++b;
    while (g < p.T && (gl[gts[g]] < c || (gl[gts[g]] == c && gi[gts[g]] < img))) ++g;
    int64_t h = g;
    while (h < p.T && gl[gts[h]] == c && gi[gts[h]] == img) ++h;
    runs.push_back({a, b, g, h});
    a = b, g = h;
  }
  const auto higher = [&](int64_t x, int64_t y) { return order_score(score[x]) > order_score(score[y]); };
  for (const Run& run : runs) {
    if (run.b - run.a > 16) {
      std::stable_sort(dets.begin() + run.a, dets.begin() + run.b, higher);
    } else {  // a few boxes per image and class: insertion sort (stable, no allocation)
      for (int64_t i = run.a + 1; i < run.b; ++i)
        for (int64_t j = i; j > run.a && higher(dets[j], dets[j - 1]); --j) std::swap(dets[j], dets[j - 1]);
    }
  }
  // the boxes in those orders, contiguous (the matching reads them run by run)
  std::vector<T> pred_s(static_cast<size_t>(p.D * p.width)), gt_s(static_cast<size_t>(p.T * p.width));
  for (int64_t i = 0; i < p.D; ++i) std::copy(pred + dets[i] * p.width, pred + (dets[i] + 1) * p.width, pred_s.data() + i * p.width);
  for (int64_t i = 0; i < p.T; ++i) std::copy(gt + gts[i] * p.width, gt + (gts[i] + 1) * p.width, gt_s.data() + i * p.width);
  // where each class begins in both orders
  std::vector<int64_t> dstart(static_cast<size_t>(p.C + 1), 0), gstart(static_cast<size_t>(p.C + 1), 0);
  for (int64_t d : dets) ++dstart[static_cast<size_t>(pl[d] + 1)];
  for (int64_t g : gts) ++gstart[static_cast<size_t>(gl[g] + 1)];
  for (int64_t c = 0; c < p.C; ++c) dstart[c + 1] += dstart[c], gstart[c + 1] += gstart[c];
  const double top = 1.0 - 1e-10;
  // greedy matching, run by run (independent: in parallel): hits [K, D] by sorted slot
  std::vector<char> hits(static_cast<size_t>(p.K * p.D), 0);
  constexpr int64_t kIouBudget = int64_t{1} << 20;  // a run's IoU matrix is kept up to this size
  parallel_ranges(static_cast<int64_t>(runs.size()), 64, [&](int64_t rb, int64_t re) {
    std::vector<double> iou, row;
    std::vector<char> taken;
    for (int64_t r = rb; r < re; ++r) {
      const Run& run = runs[static_cast<size_t>(r)];
      const int64_t nd = run.b - run.a, ng = run.h - run.g;
      if (ng == 0) continue;
      const bool keep = nd * ng <= kIouBudget;  // else each row is recomputed per threshold
      const auto pair = [&](int64_t i, int64_t j) {
        return pair_iou(pred_s.data() + (run.a + i) * p.width, gt_s.data() + (run.g + j) * p.width, p.kind, seq);
      };
      if (keep) {
        iou.resize(static_cast<size_t>(nd * ng));
        for (int64_t i = 0; i < nd; ++i)
          for (int64_t j = 0; j < ng; ++j) iou[i * ng + j] = pair(i, j);
      }
      row.resize(static_cast<size_t>(ng));
      for (int64_t k = 0; k < p.K; ++k) {
        taken.assign(static_cast<size_t>(ng), 0);
        const double t = std::min(thr[k], top);
        for (int64_t i = 0; i < nd; ++i) {
          const double* v = keep ? iou.data() + i * ng : row.data();
          if (!keep) for (int64_t j = 0; j < ng; ++j) row[j] = pair(i, j);
          double best = t;
          int64_t m = -1;
          for (int64_t j = 0; j < ng; ++j) {
            if (taken[j] || !(v[j] >= best)) continue;
            best = v[j], m = j;
          }
          if (m >= 0) taken[m] = 1, hits[k * p.D + run.a + i] = 1;
        }
      }
    }
  });
  parallel_ranges(p.C, 1, [&](int64_t cb, int64_t ce) {
    std::vector<double> rec, prec;
    std::vector<char> hit;
    std::vector<int64_t> order;
    std::vector<Ranked> ranked;
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t d0 = dstart[c], d1 = dstart[c + 1], g0 = gstart[c], g1 = gstart[c + 1];
      const int64_t npos = g1 - g0;
      // the class's detections in descending score (ties: image, then index; the slots are in
      // (image, score, index) order already, so a stable sort by score alone gives that)
      ranked.resize(static_cast<size_t>(d1 - d0));
      for (int64_t x = 0; x < d1 - d0; ++x) ranked[x] = {order_score(score[dets[d0 + x]]), x};
      std::sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) {
        return x.score != y.score ? x.score > y.score : x.slot < y.slot;  // slots are unique: a strict order
      });
      order.resize(ranked.size());
      for (size_t x = 0; x < ranked.size(); ++x) order[x] = ranked[x].slot;
      for (int64_t k = 0; k < p.K; ++k) {
        if (npos == 0) { ap[c * p.K + k] = std::numeric_limits<double>::quiet_NaN(); continue; }
        hit.resize(order.size());
        for (size_t i = 0; i < order.size(); ++i) hit[i] = hits[k * p.D + d0 + order[i]];
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
