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
// (d4's own alignment is 32 bytes whatever the typedef says, so the attribute GCC ignores in the
// template argument changes nothing)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
template <> struct Lanes<d4> {
  static constexpr int n = kLanes;
  static VR_LANE_INLINE d4 load(const double* p) { return load_d4(p); }
  static VR_LANE_INLINE void store(double* p, d4 v) { std::memcpy(p, &v, sizeof v); }
  static VR_LANE_INLINE d4 iota(double first) { return d4{first, first + 1.0, first + 2.0, first + 3.0}; }
  static VR_LANE_INLINE double get(d4 v, int l) { return v[l]; }
};
#pragma GCC diagnostic pop

// Two compilations of a loop over [b, e): the default target (SSE2 on x86-64) and an AVX2 clone,
// NAME_default and NAME_avx2, each calling BODY(b, e), which must be always-inline (VR_LANE_INLINE)
// so that each clone compiles its own copy: the one way this library multi-versions its CPU loops.
// TEMPLATE is a template head for both (VR_NOT_TEMPLATE for none).
#define VR_CPU_CLONES(TEMPLATE, NAME, SIGNATURE, BODY)                 \
  TEMPLATE void NAME##_default SIGNATURE { BODY; }                     \
  TEMPLATE __attribute__((target("avx2"))) void NAME##_avx2 SIGNATURE { BODY; }
#define VR_NOT_TEMPLATE

}  // namespace vr
#endif
