// Lanes for the CPU loops: the math templates in the op headers take a value type V that is either
// double (scalar; the only type CUDA sees) or d4, four doubles in a GCC/Clang vector. The same
// template code then serves the scalar, SIMD and CUDA paths. Host compilers only.
#pragma once
#include "common/macros.h"

#if !defined(__CUDACC__) && (defined(__GNUC__) || defined(__clang__))
#define VR_HAVE_D4 1
#include <cstring>

namespace vr {

typedef double d4 __attribute__((vector_size(32), aligned(32)));
typedef long long m4 __attribute__((vector_size(32), aligned(32)));  // lane masks: -1 or 0
constexpr int kLanes = 4;

VR_LANE_INLINE d4 vmin(d4 a, d4 b) { return a < b ? a : b; }
VR_LANE_INLINE d4 vmax(d4 a, d4 b) { return a < b ? b : a; }
template <> VR_LANE_INLINE d4 splat<d4>(double x) { return d4{x, x, x, x}; }
VR_LANE_INLINE d4 load_d4(const double* p) {
  d4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
VR_LANE_INLINE d4 clamp01(d4 x) { return vmin(vmax(x, splat<d4>(0.0)), splat<d4>(1.0)); }
VR_LANE_INLINE bool lane(m4 m, int l) { return m[l] != 0; }

}  // namespace vr
#endif
