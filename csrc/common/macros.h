// Portable marks and scalar helpers shared by the C++ and CUDA compilers.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define VR_HD __host__ __device__
#else
#define VR_HD
#endif
#define VR_INLINE VR_HD inline

namespace vr {

// NaN and +-inf fail this test; it needs no <cmath> overload that differs between host and device.
VR_INLINE bool finite(double x) { return x - x == 0.0; }

template <class T> VR_INLINE T vmin(T a, T b) { return b < a ? b : a; }
template <class T> VR_INLINE T vmax(T a, T b) { return a < b ? b : a; }
template <class T> VR_INLINE T clamp01(T x) { return vmin<T>(vmax<T>(x, T(0)), T(1)); }

}  // namespace vr
