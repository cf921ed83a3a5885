#include "common/cpu_exec.h"
#include "oriented/oriented_grad.h"

namespace vr {
void oriented_iou_cpu(const OrientedArgs& p) { oriented_iou(CpuExec{}, p); }
void oriented_iou_pairwise_cpu(const OrientedArgs& p) { oriented_iou_pairwise(CpuExec{}, p); }
void euler_rows_cpu(const EulerArgs& p) { euler_rows(CpuExec{}, p); }
void oriented_iou_backward_cpu(const OrientedArgs& p) { oriented_iou_backward(CpuExec{}, p); }
}  // namespace vr
