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

// One FPS step over the points [p0, p1) (p1 - p0 a multiple of the lane count): each point's
// distance to its nearest chosen centre is updated with the new centre c, and each lane keeps the
// first maximum of its own points (best, arg). The FPS rule is this loop; the scalar path and CUDA
// run it with V = double, the SIMD paths with d4 and reduce the lanes after (fps_pick).
template <class V> VR_LANE_INLINE void fps_scan(const double* x, const double* y, const double* z, double* md,
                                                int64_t p0, int64_t p1, double cx, double cy, double cz, V& best, V& arg) {
  const V cx4 = splat<V>(cx), cy4 = splat<V>(cy), cz4 = splat<V>(cz);
  V pos = Lanes<V>::iota(static_cast<double>(p0));
  for (int64_t p = p0; p < p1; p += Lanes<V>::n) {
    const V m = vmin(Lanes<V>::load(md + p),
                     sq_dist(Lanes<V>::load(x + p), Lanes<V>::load(y + p), Lanes<V>::load(z + p), cx4, cy4, cz4));
    Lanes<V>::store(md + p, m);
    const auto more = m > best;
    best = more ? m : best;
    arg = more ? pos : arg;
    pos = pos + splat<V>(static_cast<double>(Lanes<V>::n));
  }
}

// The lanes' maxima reduced to one: the largest, the lowest index among equals.
template <class V> VR_LANE_INLINE void fps_pick(const V& best4, const V& arg4, double& best, int64_t& arg) {
  best = -1.0;
  arg = 0;
  for (int l = 0; l < Lanes<V>::n; ++l) {
    const double v = Lanes<V>::get(best4, l);
    const int64_t a = static_cast<int64_t>(Lanes<V>::get(arg4, l));
    if (v > best || (v == best && a < arg)) best = v, arg = a;
  }
}

// Farthest point sampling of cloud b with lanes V over the body and doubles over the tail.
template <class V> VR_LANE_INLINE void fps_cloud(const double* xyz, int64_t P, int64_t G, double* mind, int64_t* out,
                                                 int64_t b) {
  const double* x = xyz + b * 3 * P;
  const double* y = x + P;
  const double* z = y + P;
  double* md = mind + b * P;
  int64_t* o = out + b * G;
  for (int64_t p = 0; p < P; ++p) md[p] = static_cast<double>(INFINITY);
  const int64_t body = P / Lanes<V>::n * Lanes<V>::n;
  int64_t cur = 0;
  for (int64_t g = 0; g < G; ++g) {
    o[g] = cur;
    const double cx = x[cur], cy = y[cur], cz = z[cur];
    V best4 = splat<V>(-1.0), arg4 = splat<V>(0.0);
    fps_scan<V>(x, y, z, md, 0, body, cx, cy, cz, best4, arg4);
    double best, arg_d;
    int64_t arg;
    fps_pick<V>(best4, arg4, best, arg);
    arg_d = static_cast<double>(arg);
    fps_scan<double>(x, y, z, md, body, P, cx, cy, cz, best, arg_d);  // the tail: indices above every lane's
    cur = static_cast<int64_t>(arg_d);
  }
}

struct Fps {
  const double* xyz;  // [B, 3, P]
  int64_t P, G;
  double* mind;       // [B, P] scratch: squared distance to the nearest chosen centre
  int64_t* out;       // [B, G]
  VR_HD void operator()(int64_t b) const { fps_cloud<double>(xyz, P, G, mind, out, b); }
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
