// Build facts and the CUDA runtime queries that must never throw on a machine without a GPU.
#pragma once
#include <string>

namespace vr {

bool built_with_cuda();
int cuda_device_count();          // 0 when there is no usable GPU or driver (never throws)
std::string cuda_runtime_error(); // why cuda_device_count() is 0, "" otherwise

}  // namespace vr

// Calls NAME_cpu(ARGS) or, for a CUDA device, NAME_cuda(ARGS); a CPU-only build raises clearly.
#ifdef VR_WITH_CUDA
#define VR_DEVICE_DISPATCH(DEV, NAME, ARGS) ((DEV).is_cuda() ? NAME##_cuda(ARGS) : NAME##_cpu(ARGS))
#else
#define VR_DEVICE_DISPATCH(DEV, NAME, ARGS)                                                        \
  ((DEV).is_cuda() ? throw std::invalid_argument(                                                  \
                         "verireward was built without CUDA; reinstall with VERIREWARD_CUDA=1")   \
                   : NAME##_cpu(ARGS))
#endif
