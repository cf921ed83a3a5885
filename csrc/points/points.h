// Farthest point sampling and k-nearest neighbours for point-patch masking (SPA §3.2, Fig. 5; the
// Point-MAE grouping). Coordinates arrive as double structure-of-arrays xyz [B, 3, P] (the Python
// layer converts), all finite (checked there).
//
// FPS: centre 0 is point 0; centre g+1 is the point whose squared distance to its nearest chosen
// centre is largest, the lowest index among equals. A cloud with fewer distinct points than
// centres repeats points (the first point at distance 0).
// KNN: for each centre, the K points nearest to it by squared distance, ascending, ties broken by
// the lower point index; the centre itself comes first (distance 0, unless an earlier duplicate).
// Squared distances are (dx*dx + dy*dy) + dz*dz in double on every path, so the scalar, SIMD and
// CUDA loops pick the same points.
#pragma once
#include <cmath>
#include <cstdint>

#include "common/abi.h"
#include "common/macros.h"

namespace vr {

template <class V> VR_LANE_INLINE V sq_dist(V x, V y, V z, V cx, V cy, V cz) {
  const V dx = x - cx, dy = y - cy, dz = z - cz;
  return dx * dx + dy * dy + dz * dz;
}

struct Fps {
  const double* xyz;  // [B, 3, P]
  int64_t P, G;
  double* mind;       // [B, P] scratch: squared distance to the nearest chosen centre
  int64_t* out;       // [B, G]
  VR_HD void operator()(int64_t b) const {
    const double* x = xyz + b * 3 * P;
    const double* y = x + P;
    const double* z = y + P;
    double* md = mind + b * P;
    int64_t* o = out + b * G;
    for (int64_t p = 0; p < P; ++p) md[p] = static_cast<double>(INFINITY);
    int64_t cur = 0;
    for (int64_t g = 0; g < G; ++g) {
      o[g] = cur;
      const double cx = x[cur], cy = y[cur], cz = z[cur];
      double best = -1.0;
      int64_t arg = 0;
      for (int64_t p = 0; p < P; ++p) {
        const double m = vmin(md[p], sq_dist(x[p], y[p], z[p], cx, cy, cz));
        md[p] = m;
        if (m > best) best = m, arg = p;
      }
      cur = arg;
    }
  }
};

// Inserts (d, p) into the list of `count` entries kept ascending by (distance, index), at most K
// entries. Returns the new count.
VR_HD inline int64_t knn_insert(double* dist, int64_t* idx, int64_t count, int64_t K, double d, int64_t p) {
  if (count == K && !(d < dist[K - 1] || (d == dist[K - 1] && p < idx[K - 1]))) return count;
  int64_t j = count < K ? count : K - 1;
  while (j > 0 && (d < dist[j - 1] || (d == dist[j - 1] && p < idx[j - 1]))) {
    dist[j] = dist[j - 1];
    idx[j] = idx[j - 1];
    --j;
  }
  dist[j] = d;
  idx[j] = p;
  return count < K ? count + 1 : K;
}

struct Knn {
  const double* xyz;       // [B, 3, P]
  const int64_t* centres;  // [B, G] point indices
  int64_t P, G, K;
  double* dist;            // [B, G, K]
  int64_t* idx;            // [B, G, K]
  VR_HD void operator()(int64_t k) const {  // k = b * G + g
    const int64_t b = k / G;
    const double* x = xyz + b * 3 * P;
    const double* y = x + P;
    const double* z = y + P;
    const int64_t c = centres[k];
    const double cx = x[c], cy = y[c], cz = z[c];
    double* d = dist + k * K;
    int64_t* o = idx + k * K;
    int64_t count = 0;
    for (int64_t p = 0; p < P; ++p) count = knn_insert(d, o, count, K, sq_dist(x[p], y[p], z[p], cx, cy, cz), p);
  }
};

#define VR_POINT_ARGS(X)          \
  X(Device, device, Device{})     \
  X(int64_t, B, 0)                \
  X(int64_t, P, 0)                \
  X(int64_t, G, 0)                \
  X(int64_t, K, 0)                \
  X(std::uintptr_t, xyz, 0)       \
  X(std::uintptr_t, mind, 0)      \
  X(std::uintptr_t, centres, 0)   \
  X(std::uintptr_t, dist, 0)      \
  X(std::uintptr_t, idx, 0)
struct PointArgs { VR_POINT_ARGS(VR_ARG_MEMBER) };

void farthest_point_sampling_cpu(const PointArgs& p);
void knn_cpu(const PointArgs& p);
#ifdef VR_WITH_CUDA
void farthest_point_sampling_cuda(const PointArgs& p);
void knn_cuda(const PointArgs& p);
#endif

}  // namespace vr
