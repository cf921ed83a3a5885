// Portable marks and scalar helpers shared by the C++ and CUDA compilers.
#pragma once
#include <cstdint>
#if !defined(__CUDA_ARCH__) && (defined(__SSE2__) || defined(_M_X64))
#include <emmintrin.h>
#define VR_HOST_SSE2 1
#endif

#if defined(__CUDACC__)
#define VR_HD __host__ __device__
#else
#define VR_HD
#endif
#define VR_INLINE VR_HD inline
// For math that runs on SIMD lanes: it must be inlined into each CPU clone (an AVX2 clone calling
// an out-of-line, default-target copy with 32-byte vector arguments crashes).
#if defined(__CUDACC__)
#define VR_LANE_INLINE __host__ __device__ __forceinline__
#else
#define VR_LANE_INLINE inline __attribute__((always_inline))
#endif

namespace vr {

// NaN and +-inf fail this test; it needs no <cmath> overload that differs between host and device.
VR_INLINE bool finite(double x) { return x - x == 0.0; }

template <class T> VR_INLINE T vmin(T a, T b) { return b < a ? b : a; }
template <class T> VR_INLINE T vmax(T a, T b) { return a < b ? b : a; }

// The double versions must be branch-free: written as a ternary, GCC compares and jumps (it sees
// through float-to-double conversions and gives up minsd), and on random boxes those jumps are
// mispredicted half of the time — 3x the cost of the whole IoU. Arguments are finite where used.
VR_LANE_INLINE double vmin(double a, double b) {
#if defined(__CUDA_ARCH__)
  return fmin(a, b);
#elif defined(VR_HOST_SSE2)
  return _mm_cvtsd_f64(_mm_min_sd(_mm_set_sd(a), _mm_set_sd(b)));
#else
  return b < a ? b : a;
#endif
}
VR_LANE_INLINE double vmax(double a, double b) {
#if defined(__CUDA_ARCH__)
  return fmax(a, b);
#elif defined(VR_HOST_SSE2)
  return _mm_cvtsd_f64(_mm_max_sd(_mm_set_sd(a), _mm_set_sd(b)));
#else
  return a < b ? b : a;
#endif
}
// A value of lane type V with every lane x (V = double here; common/simd.h adds vector lanes).
template <class V> VR_LANE_INLINE V splat(double x);
template <> VR_LANE_INLINE double splat<double>(double x) { return x; }
template <class V> VR_LANE_INLINE V clamp01(V x) { return vmin(vmax(x, splat<V>(0.0)), splat<V>(1.0)); }

// Loads, stores and lane indices for the lane-generic loops: V = double here (the scalar path and
// CUDA), d4 in common/simd.h.
template <class V> struct Lanes;
template <> struct Lanes<double> {
  static constexpr int n = 1;
  static VR_LANE_INLINE double load(const double* p) { return *p; }
  static VR_LANE_INLINE void store(double* p, double v) { *p = v; }
  static VR_LANE_INLINE double iota(double first) { return first; }  // the lanes' indices from `first`
  static VR_LANE_INLINE double get(double v, int) { return v; }
};

}  // namespace vr
