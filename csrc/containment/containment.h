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

namespace vr {

template <int D, class T> VR_INLINE bool point_in_box(const T* p, const Box<D>& b) {
  bool in = true;
  for (int k = 0; k < D; ++k) {
    const double x = static_cast<double>(p[k]);
    in = in && b.lo[k] <= x && x <= b.hi[k];  // false for NaN
  }
  return in;
}

template <class T, int D> struct Containment {
  const T* points;        // [n, K, D]
  int64_t K;
  const int64_t* counts;  // [n]
  const T* boxes; int64_t box_stride;  // [n, 2D]; stride 0 broadcasts one box
  T* out;                 // [n]
  VR_HD void operator()(int64_t i) const {
    const int64_t c = vmin<int64_t>(vmax<int64_t>(counts[i], 0), K);
    Box<D> b;
    if (c == 0 || !load_box<D>(boxes + i * box_stride, b)) {
      out[i] = T(0);
      return;
    }
    int64_t inside = 0;
    for (int64_t m = 0; m < c; ++m) inside += point_in_box<D>(points + (i * K + m) * D, b) ? 1 : 0;
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
  X(int64_t, box_stride, 0) /* 0 broadcasts one box */
struct ContainmentArgs { VR_CONTAINMENT_ARGS(VR_ARG_MEMBER) };

template <class Exec> void keypoint_containment(const Exec& ex, const ContainmentArgs& p) {
  dispatch_dim_float(p.dim, p.dtype, [&](auto d, auto t) {
    using T = decltype(t);
    constexpr int D = decltype(d)::value;
    ex.for_each(p.n, Containment<T, D>{ptr<const T>(p.points), p.K, ptr<const int64_t>(p.counts),
                                       ptr<const T>(p.boxes), p.box_stride, ptr<T>(p.out)},
                256);
  });
}

void keypoint_containment_cpu(const ContainmentArgs& p);
#ifdef VR_WITH_CUDA
void keypoint_containment_cuda(const ContainmentArgs& p);
#endif

}  // namespace vr
