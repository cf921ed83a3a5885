#include "common/cuda_exec.cuh"
#include "oriented/oriented_grad.h"

namespace vr {
void oriented_iou_cuda(const OrientedArgs& p) { oriented_iou(CudaExec{p.device}, p); }
void oriented_iou_pairwise_cuda(const OrientedArgs& p) { oriented_iou_pairwise(CudaExec{p.device}, p); }
void euler_rows_cuda(const EulerArgs& p) { euler_rows(CudaExec{p.device}, p); }
void oriented_iou_backward_cuda(const OrientedArgs& p) { oriented_iou_backward(CudaExec{p.device}, p); }
}  // namespace vr
