#include "common/cuda_exec.cuh"
#include "points/points.h"

namespace vr {
// One thread per cloud for FPS (its G steps are sequential), one per centre for KNN.
void farthest_point_sampling_cuda(const PointArgs& p) {
  CudaExec{p.device}.for_each(p.B, Fps{ptr<const double>(p.xyz), p.P, p.G, ptr<double>(p.mind), ptr<int64_t>(p.centres)});
}
void knn_cuda(const PointArgs& p) {
  CudaExec{p.device}.for_each(p.B * p.G, Knn{ptr<const double>(p.xyz), ptr<const int64_t>(p.centres), p.P, p.G, p.K,
                                             ptr<double>(p.dist), ptr<int64_t>(p.idx)});
}
}  // namespace vr
