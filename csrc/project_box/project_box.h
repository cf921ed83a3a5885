// Projection of an axis-aligned 3D box through a pinhole camera, clipped against the near plane,
// and the reprojection-consistency verifier (RPC) built on it (GRCA Eq. 11, GRCA Eq. 12, GRCA Eq. 13).
//
// Camera: homogeneous image point h = K (R X + t) (GRCA Eq. 11), pixel (h0/h2, h1/h2). The clipping
// plane is h2 = near; h2 is the camera-frame depth z_c whenever K's last row is (0, 0, 1), as for
// every pinhole intrinsic matrix. The part of the box with h2 >= near is kept: its vertices are the
// corners with h2 >= near plus the points where the 12 edges cross h2 = near; the enclosing 2D box
// of their projections is the enclosing box of the projected visible solid (perspective maps the
// convex visible part to a convex set whose extreme points are the projected vertices).
// Invalid (valid = 0, box (0, 0, 0, 0)): nothing in front of the near plane, a non-finite input or
// result (finite in the output dtype: a float32 output that would overflow is invalid), or with an
// image rectangle, a projection entirely outside it. RPC works on the double projection.
#pragma once
#include <cstdint>
#include "box_iou/box_iou.h"
#include "common/abi.h"
#include "common/macros.h"
#include "common/rotation.h"

namespace vr {

// The enclosing image box of a parallelepiped solid: corner c = base + sum over the axes a whose
// bit is set in c of edge[a] (world frame). out = (u_min, v_min, u_max, v_max); returns validity.
// img (nullable) = (W, H): clip to [0, W] x [0, H].
template <class T>
VR_INLINE bool project_solid(const double base[3], const double edge[3][3], const T* K, const T* R, const T* t,
                             double near, const T* img, double out[4]) {
  out[0] = out[1] = out[2] = out[3] = 0.0;
  double k[9], r[9], tt[3];
  bool ok = true;
  for (int i = 0; i < 9; ++i) {
    k[i] = static_cast<double>(K[i]);
    r[i] = static_cast<double>(R[i]);
    ok = ok && finite(k[i]) && finite(r[i]);
  }
  for (int i = 0; i < 3; ++i) {
    tt[i] = static_cast<double>(t[i]);
    ok = ok && finite(tt[i]);
  }
  if (!ok) return false;

  // P = K R; the base corner maps to h_lo = K (R base + t); corner c adds sum_k bit_k(c) P edge_k.
  // Working from the box's own corner keeps large world coordinates from cancelling badly.
  double P[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      P[3 * i + j] = k[3 * i] * r[j] + k[3 * i + 1] * r[3 + j] + k[3 * i + 2] * r[6 + j];
  double xc[3];
  for (int i = 0; i < 3; ++i) xc[i] = r[3 * i] * base[0] + r[3 * i + 1] * base[1] + r[3 * i + 2] * base[2] + tt[i];
  double h_lo[3];
  for (int i = 0; i < 3; ++i) h_lo[i] = k[3 * i] * xc[0] + k[3 * i + 1] * xc[1] + k[3 * i + 2] * xc[2];
  double e[3][3];  // e[axis][row]
  for (int a = 0; a < 3; ++a)
    for (int i = 0; i < 3; ++i) e[a][i] = P[3 * i] * edge[a][0] + P[3 * i + 1] * edge[a][1] + P[3 * i + 2] * edge[a][2];
  double h[8][3];
  bool vis[8];
  for (int c = 0; c < 8; ++c) {
    for (int i = 0; i < 3; ++i)
      h[c][i] = h_lo[i] + ((c & 1) ? e[0][i] : 0.0) + ((c & 2) ? e[1][i] : 0.0) + ((c & 4) ? e[2][i] : 0.0);
    vis[c] = h[c][2] >= near;
  }

  double u0 = 0.0, v0 = 0.0, u1 = 0.0, v1 = 0.0;
  bool any = false;
  auto add = [&](double u, double v) {
    if (!any) { u0 = u1 = u; v0 = v1 = v; any = true; return; }
    u0 = vmin(u0, u); u1 = vmax(u1, u); v0 = vmin(v0, v); v1 = vmax(v1, v);
  };
  for (int c = 0; c < 8; ++c)
    if (vis[c]) add(h[c][0] / h[c][2], h[c][1] / h[c][2]);
  for (int c = 0; c < 8; ++c) {
    for (int bit = 1; bit < 8; bit <<= 1) {
      if (c & bit) continue;
      const int d = c | bit;  // edge c -> d along one axis
      if (vis[c] == vis[d]) continue;
      const double s = (near - h[c][2]) / (h[d][2] - h[c][2]);
      add((h[c][0] + s * (h[d][0] - h[c][0])) / near, (h[c][1] + s * (h[d][1] - h[c][1])) / near);
    }
  }
  if (!any) return false;
  if (img != nullptr) {
    const double W = static_cast<double>(img[0]), H = static_cast<double>(img[1]);
    if (!(finite(W) && finite(H))) return false;
    u0 = vmax(u0, 0.0); v0 = vmax(v0, 0.0); u1 = vmin(u1, W); v1 = vmin(v1, H);
    if (u0 > u1 || v0 > v1) return false;
  }
  if (!(finite(u0) && finite(v0) && finite(u1) && finite(v1))) return false;
  out[0] = u0; out[1] = v0; out[2] = u1; out[3] = v1;
  return true;
}

// An axis-aligned box (x1, y1, z1, x2, y2, z2): base = the low corner, edges along the world axes.
template <class T>
VR_INLINE bool project_aabb(const T* box, const T* K, const T* R, const T* t, double near, const T* img, double out[4]) {
  out[0] = out[1] = out[2] = out[3] = 0.0;
  Box<3> b;
  if (!load_box<3>(box, b)) return false;
  double edge[3][3] = {{b.hi[0] - b.lo[0], 0, 0}, {0, b.hi[1] - b.lo[1], 0}, {0, 0, b.hi[2] - b.lo[2]}};
  return project_solid(b.lo, edge, K, R, t, near, img, out);
}

// An oriented box (cx, cy, cz, sx, sy, sz, angles): base = c - R s / 2, edges s_k R[:, k]. A size
// <= 0 or a non-finite number is invalid.
template <class T>
VR_INLINE bool project_oriented(const T* box, const BoxSeq& seq, const T* K, const T* R, const T* t, double near,
                                const T* img, double out[4]) {
  out[0] = out[1] = out[2] = out[3] = 0.0;
  double Rb[9], c[3], s[3];
  bool ok = seq.matrix(box, Rb);
  for (int q = 0; q < 3; ++q) {
    c[q] = static_cast<double>(box[q]), s[q] = static_cast<double>(box[3 + q]);
    ok = ok && finite(c[q]) && finite(s[q]) && s[q] > 0.0;
  }
  if (!ok) return false;
  double base[3], edge[3][3];
  for (int i = 0; i < 3; ++i) {
    base[i] = c[i] - 0.5 * (Rb[3 * i] * s[0] + Rb[3 * i + 1] * s[1] + Rb[3 * i + 2] * s[2]);
    for (int a = 0; a < 3; ++a) edge[a][i] = s[a] * Rb[3 * i + a];
  }
  return project_solid(base, edge, K, R, t, near, img, out);
}

// Row strides in elements: 0 broadcasts one camera (or one image size) over the batch.
template <class T> struct CameraRows {
  const T* K; int64_t K_stride;
  const T* R; int64_t R_stride;
  const T* t; int64_t t_stride;
  const T* img; int64_t img_stride;  // img may be null
  double near;
  bool oriented;  // boxes are (cx, cy, cz, sx, sy, sz, angles) with `seq`, else (x1, y1, z1, x2, y2, z2)
  BoxSeq seq;
  VR_HD int64_t width() const { return oriented ? 6 + seq.k : 6; }
  VR_HD bool project(const T* box, int64_t i, double out[4]) const {
    const T* img_i = img ? img + i * img_stride : nullptr;
    return oriented ? project_oriented(box, seq, K + i * K_stride, R + i * R_stride, t + i * t_stride, near, img_i, out)
                    : project_aabb(box, K + i * K_stride, R + i * R_stride, t + i * t_stride, near, img_i, out);
  }
};

template <class T> struct ProjectBox {
  const T* boxes;  // [n, 6] or [n, 6 + k]
  CameraRows<T> cam;
  T* out;          // [n, 4]
  uint8_t* valid;  // [n]
  VR_HD void operator()(int64_t i) const {
    double r[4];
    bool ok = cam.project(boxes + i * cam.width(), i, r);
    T stored[4];
    for (int k = 0; k < 4; ++k) {  // valid means finite in the output dtype (float32 overflows first)
      stored[k] = static_cast<T>(r[k]);
      ok = ok && finite(static_cast<double>(stored[k]));
    }
    for (int k = 0; k < 4; ++k) out[i * 4 + k] = ok ? stored[k] : T(0);
    valid[i] = ok ? 1 : 0;
  }
};

// RPC (GRCA Eq. 13): IoU of the predicted 2D box with the enclosing box of the projected 3D box; 0 when
// the projection is invalid or the 2D box is non-finite or degenerate.
template <class T> struct Rpc {
  const T* boxes2d; int64_t boxes2d_stride;  // [n, 4]
  const T* boxes3d;                          // [n, 6]
  CameraRows<T> cam;
  T* out;                                    // [n]
  VR_HD void operator()(int64_t i) const {
    double r[4];
    Box<2> pred, proj;
    double v = 0.0;
    if (cam.project(boxes3d + i * cam.width(), i, r) && load_box<2>(boxes2d + i * boxes2d_stride, pred) &&
        load_box<2>(r, proj))
      v = box_iou<2>(pred, proj);
    out[i] = static_cast<T>(v);
  }
};

#define VR_PROJECT_ARGS(X)                                              \
  X(DType, dtype, DType::Float32)                                       \
  X(Device, device, Device{})                                           \
  X(int64_t, n, 0)                                                      \
  X(std::uintptr_t, boxes3d, 0)                                         \
  X(std::uintptr_t, boxes2d, 0) /* RPC input only */                    \
  X(int64_t, boxes2d_stride, 4)                                         \
  X(std::uintptr_t, K, 0)                                               \
  X(std::uintptr_t, R, 0)                                               \
  X(std::uintptr_t, t, 0)                                               \
  X(std::uintptr_t, img, 0)     /* (W, H) to clip to, or 0 */           \
  X(int64_t, K_stride, 9)       /* 0 broadcasts one camera */           \
  X(int64_t, R_stride, 9)                                               \
  X(int64_t, t_stride, 3)                                               \
  X(int64_t, img_stride, 0)                                             \
  X(double, near, 1e-4)                                                 \
  X(std::uintptr_t, out, 0)                                             \
  X(std::uintptr_t, valid, 0)                                           \
  X(bool, oriented, false)      /* boxes3d: (c, s, angles) with the sequence below */ \
  VR_ROTATION_ARGS(X)
struct ProjectArgs { VR_PROJECT_ARGS(VR_ARG_MEMBER) };

template <class T> CameraRows<T> camera_rows(const ProjectArgs& p) {
  const BoxSeq seq = box_seq_of(p);
  return CameraRows<T>{ptr<const T>(p.K), p.K_stride, ptr<const T>(p.R), p.R_stride, ptr<const T>(p.t),
                       p.t_stride, ptr<const T>(p.img), p.img_stride, p.near, p.oriented, seq};
}

template <class Exec> void project_box(const Exec& ex, const ProjectArgs& p) {
  dispatch_float(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    ex.for_each(p.n, ProjectBox<T>{ptr<const T>(p.boxes3d), camera_rows<T>(p), ptr<T>(p.out), ptr<uint8_t>(p.valid)},
                1024);
  });
}

template <class Exec> void rpc(const Exec& ex, const ProjectArgs& p) {
  dispatch_float(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    ex.for_each(p.n, Rpc<T>{ptr<const T>(p.boxes2d), p.boxes2d_stride, ptr<const T>(p.boxes3d), camera_rows<T>(p),
                            ptr<T>(p.out)},
                1024);
  });
}

void project_box_cpu(const ProjectArgs& p);
void rpc_cpu(const ProjectArgs& p);
#ifdef VR_WITH_CUDA
void project_box_cuda(const ProjectArgs& p);
void rpc_cuda(const ProjectArgs& p);
#endif

}  // namespace vr
