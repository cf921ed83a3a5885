// Axis-aligned box IoU in D = 2 or 3 dimensions: forward, backward, elementwise and pairwise.
//
// A box is written as two corners (p[0..D), p[D..2D)) and means their axis-aligned hull, so swapped
// corners describe the same box. Rules (verireward/SEMANTICS.md): a non-finite coordinate or a zero extent on any
// axis gives IoU 0 (also against itself); touching boxes give exactly 0; identical non-degenerate
// boxes exactly 1; results are clamped to [0, 1]. All arithmetic is in double whatever the storage
// type. Extents are differences of coordinates, so the result does not depend on where the boxes
// are (a box against itself at offset 1e6 in float32 is exactly 1).
#pragma once
#include <cstdint>
#include "common/abi.h"
#include "common/macros.h"
#include "common/simd.h"  // before the templates: their lane overloads must be visible here

namespace vr {

template <int D> struct Box {
  double lo[D];
  double hi[D];
};

// Loads the hull of the two corners at p; false when a coordinate is NaN or infinite.
// x * 0 is 0 for finite x and NaN otherwise, so one comparison checks all 2D coordinates.
template <int D, class T> VR_INLINE bool load_box(const T* p, Box<D>& b) {
  double z = 0.0;
  for (int k = 0; k < D; ++k) {
    const double u = static_cast<double>(p[k]), v = static_cast<double>(p[k + D]);
    z += u * 0.0 + v * 0.0;
    b.lo[k] = vmin(u, v);
    b.hi[k] = vmax(u, v);
  }
  return z == 0.0;
}

constexpr double kMaxDouble = 1.7976931348623157e308;
// Products below this (subnormal) lose relative precision: 1.5 * 5e-324 rounds to 1e-323.
constexpr double kMinNormal = 2.2250738585072014e-308;
// Beyond this magnitude extents may overflow double; both boxes are then scaled by 2^-128 (exact).
constexpr double kHugeCoordinate = 1e300;

template <int D> VR_INLINE void rescale_if_huge(Box<D>& a, Box<D>& b) {
  double m = 0.0;
  for (int k = 0; k < D; ++k)
    m = vmax(m, vmax(vmax(-a.lo[k], a.hi[k]), vmax(-b.lo[k], b.hi[k])));
  if (m < kHugeCoordinate) return;
  const double s = 2.9387358770557188e-39;  // 2^-128
  for (int k = 0; k < D; ++k) {
    a.lo[k] *= s; a.hi[k] *= s; b.lo[k] *= s; b.hi[k] *= s;
  }
}

// The rare path of box_iou: a zero extent (IoU 0 by rule), or volumes outside double's normal
// range (overflow, or subnormal products that lost precision). The latter uses the same ratio with
// every extent divided by a's extent: exact ratios of exact extents, a denominator >= 1, and a
// result in [0, 1] at any scale.
template <int D> VR_INLINE double box_iou_rare(Box<D> a, Box<D> b) {
  for (int k = 0; k < D; ++k)
    if (!(a.hi[k] > a.lo[k]) || !(b.hi[k] > b.lo[k])) return 0.0;
  rescale_if_huge(a, b);
  double ri = 1.0, rb = 1.0;
  for (int k = 0; k < D; ++k) {
    const double wa = a.hi[k] - a.lo[k];
    ri *= vmax(vmin(a.hi[k], b.hi[k]) - vmax(a.lo[k], b.lo[k]), 0.0) / wa;  // <= 1
    rb *= (b.hi[k] - b.lo[k]) / wa;
  }
  const double r = ri / (1.0 + rb - ri);
  return finite(r) ? clamp01(r) : 0.0;
}

// The IoU formula for lanes of boxes already loaded as hulls (lo <= hi per axis): V is double or
// a SIMD vector of doubles, M the matching lane mask. Disjoint and touching boxes fall out of the
// arithmetic (a zero intersection extent), so there is no data-dependent branch. `fast_ok` is
// false for lanes that box_iou_rare must decide: a zero extent, or a volume whose partial products
// left double's normal range (overflow; or a subnormal, which keeps too few digits). A subnormal
// intersection volume needs no such care: divided by a normal volume, its error is below 1e-16.
template <int D, class V, class M>
VR_LANE_INLINE V box_iou_lanes(const V* alo, const V* ahi, const V* blo, const V* bhi, M& fast_ok) {
  V va = splat<V>(1.0), vb = splat<V>(1.0), vi = splat<V>(1.0), smallest = splat<V>(1.0);
  for (int k = 0; k < D; ++k) {
    va *= ahi[k] - alo[k];
    vb *= bhi[k] - blo[k];
    vi *= vmax(vmin(ahi[k], bhi[k]) - vmax(alo[k], blo[k]), splat<V>(0.0));
    smallest = vmin(smallest, vmin(va, vb));
  }
  const V u = va + vb - vi;  // >= max(va, vb) >= vi, also after rounding
  fast_ok = (smallest >= kMinNormal) & (u <= kMaxDouble);
  return clamp01(vi / u);
}

// IoU of two finite boxes.
template <int D> VR_INLINE double box_iou(const Box<D>& a, const Box<D>& b) {
  bool fast_ok = false;
  const double r = box_iou_lanes<D>(a.lo, a.hi, b.lo, b.hi, fast_ok);
  return fast_ok ? r : box_iou_rare(a, b);
}

// IoU of two boxes as written by a caller or a model (non-finite => 0).
template <int D, class T> VR_INLINE double box_iou_raw(const T* pa, const T* pb) {
  Box<D> a, b;
  const bool ok = load_box<D>(pa, a) & load_box<D>(pb, b);
  return ok ? box_iou<D>(a, b) : 0.0;
}

// Gradient of g * IoU(a, b) with respect to the 2D raw coordinates of each box (ga, gb accumulate
// nothing: they are overwritten). Where IoU is 0 by rule (degenerate, disjoint, touching, non-finite)
// or the volumes leave double's normal range (as in box_iou_lanes) the gradient is 0. Where two competing coordinates tie (the
// intersection's edge could come from either box), the gradient is split equally between them, as
// torch.minimum / torch.maximum do.
template <int D, class T> VR_INLINE void box_iou_grad_raw(const T* pa, const T* pb, double g, double* ga,
                                                          double* gb) {
  for (int k = 0; k < 2 * D; ++k) ga[k] = gb[k] = 0.0;
  Box<D> a, b;
  if (!load_box<D>(pa, a) || !load_box<D>(pb, b)) return;
  double wa[D], wb[D], wi[D];
  double va = 1.0, vb = 1.0, vi = 1.0, smallest = 1.0;
  for (int k = 0; k < D; ++k) {
    wa[k] = a.hi[k] - a.lo[k];
    wb[k] = b.hi[k] - b.lo[k];
    wi[k] = vmin(a.hi[k], b.hi[k]) - vmax(a.lo[k], b.lo[k]);
    if (!(wa[k] > 0.0) || !(wb[k] > 0.0) || !(wi[k] > 0.0)) return;
    va *= wa[k];
    vb *= wb[k];
    vi *= wi[k];
    smallest = vmin(smallest, vmin(va, vb));
  }
  const double u = va + vb - vi;
  if (!(vi > 0.0 && smallest >= kMinNormal && u <= kMaxDouble)) return;
  const double d_vi = g * (va + vb) / (u * u);  // d IoU / d intersection volume
  const double d_v = -g * vi / (u * u);         // d IoU / d va  (= d IoU / d vb)
  for (int k = 0; k < D; ++k) {
    double pa_k = 1.0, pb_k = 1.0, pi_k = 1.0;  // products of the other axes' extents
    for (int j = 0; j < D; ++j) {
      if (j == k) continue;
      pa_k *= wa[j];
      pb_k *= wb[j];
      pi_k *= wi[j];
    }
    // Which box supplies the intersection's upper (min of his) and lower (max of los) faces.
    const double a_hi_sel = a.hi[k] < b.hi[k] ? 1.0 : (a.hi[k] == b.hi[k] ? 0.5 : 0.0);
    const double a_lo_sel = a.lo[k] > b.lo[k] ? 1.0 : (a.lo[k] == b.lo[k] ? 0.5 : 0.0);
    const double g_ahi = d_v * pa_k + d_vi * pi_k * a_hi_sel;
    const double g_alo = -d_v * pa_k - d_vi * pi_k * a_lo_sel;
    const double g_bhi = d_v * pb_k + d_vi * pi_k * (1.0 - a_hi_sel);
    const double g_blo = -d_v * pb_k - d_vi * pi_k * (1.0 - a_lo_sel);
    // Back to the raw corners: the hull's lo is whichever of p[k], p[k + D] is smaller.
    const bool a_ordered = static_cast<double>(pa[k]) < static_cast<double>(pa[k + D]);
    ga[k] = a_ordered ? g_alo : g_ahi;
    ga[k + D] = a_ordered ? g_ahi : g_alo;
    const bool b_ordered = static_cast<double>(pb[k]) < static_cast<double>(pb[k + D]);
    gb[k] = b_ordered ? g_blo : g_bhi;
    gb[k + D] = b_ordered ? g_bhi : g_blo;
  }
}

// ---- batched operators: one functor per output element, run by CpuExec or CudaExec -----------

template <class T, int D> struct IouElementwise {
  const T* a; int64_t a_stride;  // [n, 2D] rows; stride 0 broadcasts one box
  const T* b; int64_t b_stride;
  T* out;                        // [n]
  VR_HD void operator()(int64_t i) const {
    out[i] = static_cast<T>(box_iou_raw<D>(a + i * a_stride, b + i * b_stride));
  }
};

template <class T, int D> struct IouElementwiseBackward {
  const T* a; int64_t a_stride;
  const T* b; int64_t b_stride;
  const T* grad_out;             // [n]
  T* grad_a; T* grad_b;          // [n, 2D] each, dense
  VR_HD void operator()(int64_t i) const {
    double ga[2 * D], gb[2 * D];
    box_iou_grad_raw<D>(a + i * a_stride, b + i * b_stride, static_cast<double>(grad_out[i]), ga, gb);
    for (int k = 0; k < 2 * D; ++k) {
      grad_a[i * 2 * D + k] = static_cast<T>(ga[k]);
      grad_b[i * 2 * D + k] = static_cast<T>(gb[k]);
    }
  }
};

template <class T, int D> struct IouPairwise {
  const T* a;  // [n, 2D]
  const T* b;  // [m, 2D]
  int64_t m;
  T* out;      // [n, m]
  VR_HD void operator()(int64_t i, int64_t j) const {
    out[i * m + j] = static_cast<T>(box_iou_raw<D>(a + i * 2 * D, b + j * 2 * D));
  }
};

// Arguments as the bindings receive them (pointers validated by the Python layer).
#define VR_IOU_ARGS(X)                                                                  \
  X(int, dim, 2)                                                                        \
  X(DType, dtype, DType::Float32)                                                       \
  X(Device, device, Device{})                                                           \
  X(int64_t, n, 0)              /* elementwise: number of pairs; pairwise: rows of a */ \
  X(int64_t, m, 0)              /* pairwise: rows of b */                               \
  X(std::uintptr_t, a, 0)                                                               \
  X(std::uintptr_t, b, 0)                                                               \
  X(std::uintptr_t, out, 0)                                                             \
  X(int64_t, a_stride, 0)       /* elementwise only, in elements (0 broadcasts a row) */\
  X(int64_t, b_stride, 0)                                                               \
  X(std::uintptr_t, grad_out, 0) /* backward only */                                    \
  X(std::uintptr_t, grad_a, 0)                                                          \
  X(std::uintptr_t, grad_b, 0)
struct IouArgs { VR_IOU_ARGS(VR_ARG_MEMBER) };

template <class Exec> void iou_elementwise(const Exec& ex, const IouArgs& p) {
  dispatch_dim_float(p.dim, p.dtype, [&](auto d, auto t) {
    using T = decltype(t);
    constexpr int D = decltype(d)::value;
    ex.for_each(p.n, IouElementwise<T, D>{ptr<const T>(p.a), p.a_stride, ptr<const T>(p.b), p.b_stride, ptr<T>(p.out)});
  });
}

template <class Exec> void iou_elementwise_backward(const Exec& ex, const IouArgs& p) {
  dispatch_dim_float(p.dim, p.dtype, [&](auto d, auto t) {
    using T = decltype(t);
    constexpr int D = decltype(d)::value;
    ex.for_each(p.n, IouElementwiseBackward<T, D>{ptr<const T>(p.a), p.a_stride, ptr<const T>(p.b), p.b_stride,
                                                  ptr<const T>(p.grad_out), ptr<T>(p.grad_a), ptr<T>(p.grad_b)});
  });
}

template <class Exec> void iou_pairwise(const Exec& ex, const IouArgs& p) {
  dispatch_dim_float(p.dim, p.dtype, [&](auto d, auto t) {
    using T = decltype(t);
    constexpr int D = decltype(d)::value;
    ex.for_each_2d(p.n, p.m, IouPairwise<T, D>{ptr<const T>(p.a), ptr<const T>(p.b), p.m, ptr<T>(p.out)});
  });
}

void iou_elementwise_cpu(const IouArgs& p);
void iou_elementwise_backward_cpu(const IouArgs& p);
void iou_pairwise_cpu(const IouArgs& p);
#ifdef VR_WITH_CUDA
void iou_elementwise_cuda(const IouArgs& p);
void iou_elementwise_backward_cuda(const IouArgs& p);
void iou_pairwise_cuda(const IouArgs& p);
#endif

}  // namespace vr
