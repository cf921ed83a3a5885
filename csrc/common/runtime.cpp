#include "common/runtime.h"

namespace vr {

#ifndef VR_WITH_CUDA
bool built_with_cuda() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_runtime_error() { return "built without CUDA"; }
#endif

}  // namespace vr
