#include "box_iou/box_iou.h"
#include "common/cpu_exec.h"

namespace vr {
void iou_elementwise_cpu(const IouArgs& p) { iou_elementwise(CpuExec{}, p); }
void iou_elementwise_backward_cpu(const IouArgs& p) { iou_elementwise_backward(CpuExec{}, p); }
void iou_pairwise_cpu(const IouArgs& p) { iou_pairwise(CpuExec{}, p); }
}  // namespace vr
