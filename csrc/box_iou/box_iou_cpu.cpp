// CPU loops for box IoU. The math is box_iou.h's; these loops only arrange data so that it runs on
// four lanes at a time (with an AVX2 clone chosen at run time), and hand every lane that the fast
// formula cannot decide (non-finite, degenerate, extreme scale) to the scalar box_iou_raw.
#include <cstdint>
#include <vector>

#include "box_iou/box_iou.h"
#include "common/cpu_exec.h"
#include "common/cpu_features.h"

namespace vr {
namespace {

#ifdef VR_HAVE_D4
#define VR_ALWAYS_INLINE VR_LANE_INLINE

// Hulls of the boxes at rows[0..kLanes), one lane each, built in registers (staging them through
// memory costs a store-forwarding stall per vector); z collects x * 0.
template <int D, class T>
VR_ALWAYS_INLINE void hull_lanes(const T* const* rows, d4* lo, d4* hi, d4& z) {
  for (int k = 0; k < D; ++k) {
    const d4 u = {static_cast<double>(rows[0][k]), static_cast<double>(rows[1][k]), static_cast<double>(rows[2][k]),
                  static_cast<double>(rows[3][k])};
    const d4 v = {static_cast<double>(rows[0][k + D]), static_cast<double>(rows[1][k + D]),
                  static_cast<double>(rows[2][k + D]), static_cast<double>(rows[3][k + D])};
    z += u * 0.0 + v * 0.0;
    lo[k] = vmin(u, v);
    hi[k] = vmax(u, v);
  }
}

template <int D, class T>
VR_ALWAYS_INLINE void elementwise_range(const IouElementwise<T, D>& op, int64_t i, int64_t end) {
  for (; i + kLanes <= end; i += kLanes) {
    const T* ra[kLanes];
    const T* rb[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      ra[l] = op.a + (i + l) * op.a_stride;
      rb[l] = op.b + (i + l) * op.b_stride;
    }
    d4 alo[D], ahi[D], blo[D], bhi[D], z = splat<d4>(0.0);
    hull_lanes<D, T>(ra, alo, ahi, z);
    hull_lanes<D, T>(rb, blo, bhi, z);
    m4 ok;
    const d4 r = box_iou_lanes<D>(alo, ahi, blo, bhi, ok);
    ok = ok & (z == 0.0);
    for (int l = 0; l < kLanes; ++l) {
      if (lane(ok, l)) op.out[i + l] = static_cast<T>(r[l]);
      else op(i + l);  // the scalar path decides: non-finite, degenerate or extreme
    }
  }
  for (; i < end; ++i) op(i);
}

// Boxes of b as structure-of-arrays hulls, padded to whole lanes; bad[j] = 1 for a non-finite box.
template <int D> struct SoaBoxes {
  int64_t m = 0, stride = 0;
  std::vector<double> lo, hi, bad;
  template <class T> SoaBoxes(const T* b, int64_t m_) : m(m_), stride((m_ + kLanes - 1) / kLanes * kLanes) {
    lo.assign(D * stride, 0.0);
    hi.assign(D * stride, 1.0);
    bad.assign(stride, 0.0);
    for (int64_t j = 0; j < m; ++j) {
      Box<D> box;
      bad[j] = load_box<D>(b + j * 2 * D, box) ? 0.0 : 1.0;
      for (int k = 0; k < D; ++k) {
        lo[k * stride + j] = box.lo[k];
        hi[k * stride + j] = box.hi[k];
      }
    }
  }
};

// out[i, j] for j in [j, j_end) of one row.
template <int D, class T>
VR_ALWAYS_INLINE void pairwise_row(const IouPairwise<T, D>& op, const SoaBoxes<D>& sb, int64_t i, int64_t j,
                                   int64_t j_end) {
  Box<D> a;
  if (!load_box<D>(op.a + i * 2 * D, a)) {
    for (; j < j_end; ++j) op.out[i * op.m + j] = T(0);
    return;
  }
  d4 alo[D], ahi[D];
  for (int k = 0; k < D; ++k) {
    alo[k] = splat<d4>(a.lo[k]);
    ahi[k] = splat<d4>(a.hi[k]);
  }
  for (; j + kLanes <= j_end; j += kLanes) {
    d4 blo[D], bhi[D];
    for (int k = 0; k < D; ++k) {
      blo[k] = load_d4(&sb.lo[k * sb.stride + j]);
      bhi[k] = load_d4(&sb.hi[k * sb.stride + j]);
    }
    m4 ok;
    const d4 r = box_iou_lanes<D>(alo, ahi, blo, bhi, ok);
    ok = ok & (load_d4(&sb.bad[j]) == 0.0);
    for (int l = 0; l < kLanes; ++l) {
      if (lane(ok, l)) op.out[i * op.m + j + l] = static_cast<T>(r[l]);
      else op(i, j + l);
    }
  }
  for (; j < j_end; ++j) op(i, j);
}

template <int D, class T>
VR_ALWAYS_INLINE void pairwise_range(const IouPairwise<T, D>& op, const SoaBoxes<D>& sb, int64_t b, int64_t e) {
  while (b < e) {  // [b, e) of the row-major flattened output, one row segment at a time
    const int64_t i = b / op.m, j = b % op.m, j_end = (e - b < op.m - j) ? j + (e - b) : op.m;
    pairwise_row<D, T>(op, sb, i, j, j_end);
    b += j_end - j;
  }
}

// Two compilations of each loop (common/simd.h's VR_CPU_CLONES), per dimension and dtype.
#define VR_IOU_TEMPLATE template <int D, class T>
VR_CPU_CLONES(VR_IOU_TEMPLATE, elementwise, (const IouElementwise<T, D>& op, int64_t b, int64_t e),
              (elementwise_range<D, T>(op, b, e)))
VR_CPU_CLONES(VR_IOU_TEMPLATE, pairwise, (const IouPairwise<T, D>& op, const SoaBoxes<D>& sb, int64_t b, int64_t e),
              (pairwise_range<D, T>(op, sb, b, e)))

struct SimdExec {
  template <class T, int D> void for_each(int64_t n, const IouElementwise<T, D>& op, int64_t grain = 4096) const {
    if (cpu_path() == CpuPath::Scalar) return CpuExec{}.for_each(n, op, grain);
    const bool avx2 = cpu_path() == CpuPath::Avx2;
    parallel_ranges(n, grain, [&](int64_t b, int64_t e) {
      avx2 ? elementwise_avx2<D, T>(op, b, e) : elementwise_default<D, T>(op, b, e);
    });
  }
  template <class T, int D>
  void for_each_2d(int64_t n, int64_t m, const IouPairwise<T, D>& op, int64_t grain = 4096) const {
    if (n <= 0 || m <= 0) return;
    if (cpu_path() == CpuPath::Scalar) return CpuExec{}.for_each_2d(n, m, op, grain);
    const SoaBoxes<D> sb(op.b, m);
    const bool avx2 = cpu_path() == CpuPath::Avx2;
    parallel_ranges(n * m, grain, [&](int64_t b, int64_t e) {
      avx2 ? pairwise_avx2<D, T>(op, sb, b, e) : pairwise_default<D, T>(op, sb, b, e);
    });
  }
};
using ForwardExec = SimdExec;
#else
using ForwardExec = CpuExec;
#endif

}  // namespace

void iou_elementwise_cpu(const IouArgs& p) { iou_elementwise(ForwardExec{}, p); }
void iou_elementwise_backward_cpu(const IouArgs& p) { iou_elementwise_backward(CpuExec{}, p); }
void iou_pairwise_cpu(const IouArgs& p) { iou_pairwise(ForwardExec{}, p); }

}  // namespace vr
