// Keypoint containment (GRCA Eq. 8): the fraction of the first counts[i] points of sample i
// that lie inside the closed box boxes[i] (its axis-aligned hull; a point on the boundary is inside).
// No points, or a box with a non-finite coordinate => 0. A point with a non-finite coordinate is
// outside. counts are validated by the Python layer; the kernel also clamps them to [0, K] so that
// it never reads outside `points`.
#pragma once
#include <cstdint>
#include "box_iou/box_iou.h"
#include "common/abi.h"
#include "common/macros.h"
#include "common/rotation.h"

namespace vr {

template <int D, class T> VR_INLINE bool point_in_box(const T* p, const Box<D>& b) {
  bool in = true;
  for (int k = 0; k < D; ++k) {
    const double x = static_cast<double>(p[k]);
    in = in && b.lo[k] <= x && x <= b.hi[k];  // false for NaN
  }
  return in;
}

// Oriented boxes: 3D (cx, cy, cz, sx, sy, sz, angles) with `seq`, the point inside when
// |R^T (p - c)|_k <= s_k / 2 on every axis; 2D (cx, cy, w, h, theta), the rectangle rotated by theta
// (the sequence's one angle). A size <= 0 or a non-finite number: no point is inside.
template <int D, class T> VR_INLINE bool oriented_frame(const T* box, const BoxSeq& seq, double c[3], double h[3],
                                                        double Rm[9]) {
  bool ok = true;
  if (D == 3) {
    ok = seq.matrix(box, Rm);
    for (int q = 0; q < 3; ++q) {
      c[q] = static_cast<double>(box[q]), h[q] = 0.5 * static_cast<double>(box[3 + q]);
      ok = ok && finite(c[q]) && finite(h[q]) && h[q] > 0.0;
    }
    return ok;
  }
  const double th = static_cast<double>(box[4]) * seq.unit;
  c[0] = static_cast<double>(box[0]), c[1] = static_cast<double>(box[1]), c[2] = 0.0;
  h[0] = 0.5 * static_cast<double>(box[2]), h[1] = 0.5 * static_cast<double>(box[3]), h[2] = 1.0;
  const double co = cos(th), si = sin(th);
  for (int r = 0; r < 9; ++r) Rm[r] = 0.0;
  Rm[0] = co, Rm[1] = -si, Rm[3] = si, Rm[4] = co, Rm[8] = 1.0;
  return finite(c[0]) && finite(c[1]) && finite(th) && finite(h[0]) && finite(h[1]) && h[0] > 0.0 && h[1] > 0.0;
}

template <int D, class T> VR_INLINE bool point_in_oriented(const T* p, const double c[3], const double h[3],
                                                           const double Rm[9]) {
  double d[3] = {0, 0, 0};
  for (int q = 0; q < D; ++q) d[q] = static_cast<double>(p[q]) - c[q];
  bool in = true;
  for (int a = 0; a < D; ++a) {
    const double u = Rm[a] * d[0] + Rm[3 + a] * d[1] + Rm[6 + a] * d[2];  // (R^T d)_a
    in = in && u <= h[a] && -h[a] <= u;  // false for NaN
  }
  return in;
}

template <class T, int D> struct Containment {
  const T* points;        // [n, K, D]
  int64_t K;
  const int64_t* counts;  // [n]
  const T* boxes; int64_t box_stride;  // [n, width]; stride 0 broadcasts one box
  T* out;                 // [n]
  bool oriented;
  BoxSeq seq;
  VR_HD void operator()(int64_t i) const {
    const int64_t c = vmin<int64_t>(vmax<int64_t>(counts[i], 0), K);
    const T* row = boxes + i * box_stride;
    int64_t inside = 0;
    if (oriented) {
      double ctr[3], h[3], Rm[9];
      if (c == 0 || !oriented_frame<D>(row, seq, ctr, h, Rm)) {
        out[i] = T(0);
        return;
      }
      for (int64_t m = 0; m < c; ++m) inside += point_in_oriented<D>(points + (i * K + m) * D, ctr, h, Rm) ? 1 : 0;
    } else {
      Box<D> b;
      if (c == 0 || !load_box<D>(row, b)) {
        out[i] = T(0);
        return;
      }
      for (int64_t m = 0; m < c; ++m) inside += point_in_box<D>(points + (i * K + m) * D, b) ? 1 : 0;
    }
    out[i] = static_cast<T>(static_cast<double>(inside) / static_cast<double>(c));
  }
};

#define VR_CONTAINMENT_ARGS(X)                                \
  X(int, dim, 2)                                              \
  X(DType, dtype, DType::Float32)                             \
  X(Device, device, Device{})                                 \
  X(int64_t, n, 0)                                            \
  X(int64_t, K, 0)                                            \
  X(std::uintptr_t, points, 0)                                \
  X(std::uintptr_t, counts, 0)                                \
  X(std::uintptr_t, boxes, 0)                                 \
  X(std::uintptr_t, out, 0)                                   \
  X(int64_t, box_stride, 0) /* 0 broadcasts one box */       \
  X(bool, oriented, false)                                    \
  VR_ROTATION_ARGS(X)
struct ContainmentArgs { VR_CONTAINMENT_ARGS(VR_ARG_MEMBER) };

template <class Exec> void keypoint_containment(const Exec& ex, const ContainmentArgs& p) {
  dispatch_dim_float(p.dim, p.dtype, [&](auto d, auto t) {
    using T = decltype(t);
    constexpr int D = decltype(d)::value;
    const BoxSeq seq = box_seq_of(p);
    ex.for_each(p.n, Containment<T, D>{ptr<const T>(p.points), p.K, ptr<const int64_t>(p.counts),
                                       ptr<const T>(p.boxes), p.box_stride, ptr<T>(p.out), p.oriented, seq},
                256);
  });
}

void keypoint_containment_cpu(const ContainmentArgs& p);
#ifdef VR_WITH_CUDA
void keypoint_containment_cuda(const ContainmentArgs& p);
#endif

}  // namespace vr
