#include "common/cpu_exec.h"
#include "project_box/project_box.h"

namespace vr {
void project_box_cpu(const ProjectArgs& p) { project_box(CpuExec{}, p); }
void rpc_cpu(const ProjectArgs& p) { rpc(CpuExec{}, p); }
}  // namespace vr
