#include "common/cuda_exec.cuh"
#include "project_box/project_box.h"

namespace vr {
void project_box_cuda(const ProjectArgs& p) { project_box(CudaExec{p.device}, p); }
void rpc_cuda(const ProjectArgs& p) { rpc(CudaExec{p.device}, p); }
}  // namespace vr
