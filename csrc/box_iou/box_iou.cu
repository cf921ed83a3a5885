#include "box_iou/box_iou.h"
#include "common/cuda_exec.cuh"

namespace vr {
void iou_elementwise_cuda(const IouArgs& p) { iou_elementwise(CudaExec{p.device}, p); }
void iou_elementwise_backward_cuda(const IouArgs& p) { iou_elementwise_backward(CudaExec{p.device}, p); }
void iou_pairwise_cuda(const IouArgs& p) { iou_pairwise(CudaExec{p.device}, p); }
}  // namespace vr
