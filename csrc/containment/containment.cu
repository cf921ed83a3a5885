#include "common/cuda_exec.cuh"
#include "containment/containment.h"

namespace vr {
void keypoint_containment_cuda(const ContainmentArgs& p) { keypoint_containment(CudaExec{p.device}, p); }
}  // namespace vr
