#include "common/cpu_exec.h"
#include "containment/containment.h"

namespace vr {
void keypoint_containment_cpu(const ContainmentArgs& p) { keypoint_containment(CpuExec{}, p); }
}  // namespace vr
