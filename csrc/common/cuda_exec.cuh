// CUDA executor: the same per-element functors as CpuExec, launched on the caller's stream.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include <stdexcept>
#include <string>
#include "common/abi.h"

namespace vr {

inline void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("verireward: CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

template <class F> __global__ void for_each_kernel(int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

template <class F> __global__ void for_each_2d_kernel(int64_t n, int64_t m, F f) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < n * m; k += stride)
    f(k / m, k % m);
}

// Makes `index` the current device for the scope, restoring the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index) {
    cuda_check(cudaGetDevice(&prev_), "cudaGetDevice");
    if (prev_ != index) cuda_check(cudaSetDevice(index), "cudaSetDevice");
  }
  ~DeviceGuard() { cudaSetDevice(prev_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
 private:
  int prev_ = 0;
};

struct CudaExec {
  Device dev;
  static constexpr int kThreads = 256;

  static unsigned blocks_for(int64_t n) {
    const int64_t b = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(b < (1 << 20) ? b : (1 << 20));  // grid-stride beyond that
  }
  template <class F> void for_each(int64_t n, const F& f, int64_t = 0) const {
    if (n <= 0) return;
    DeviceGuard guard(dev.index);
    for_each_kernel<<<blocks_for(n), kThreads, 0, reinterpret_cast<cudaStream_t>(dev.stream)>>>(n, f);
    cuda_check(cudaGetLastError(), "kernel launch");
  }
  template <class F> void for_each_2d(int64_t n, int64_t m, const F& f, int64_t = 0) const {
    if (n <= 0 || m <= 0) return;
    DeviceGuard guard(dev.index);
    for_each_2d_kernel<<<blocks_for(n * m), kThreads, 0, reinterpret_cast<cudaStream_t>(dev.stream)>>>(n, m, f);
    cuda_check(cudaGetLastError(), "kernel launch");
  }
};

}  // namespace vr
