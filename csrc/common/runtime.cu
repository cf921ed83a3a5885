#include <cuda_runtime.h>
#include "common/runtime.h"

namespace vr {

bool built_with_cuda() { return true; }

static cudaError_t device_count(int* n) {
  *n = 0;
  const cudaError_t err = cudaGetDeviceCount(n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it so that it does not surface in a later, unrelated check
    *n = 0;
  }
  return err;
}

int cuda_device_count() {
  int n = 0;
  device_count(&n);
  return n;
}

std::string cuda_runtime_error() {
  int n = 0;
  const cudaError_t err = device_count(&n);
  if (err != cudaSuccess) return cudaGetErrorString(err);
  return n == 0 ? "no CUDA device" : "";
}

}  // namespace vr
