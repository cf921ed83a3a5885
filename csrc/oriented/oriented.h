// Oriented boxes: Euler-angle rotations, 3D box corners, rotated-rectangle IoU and the yaw-only
// (single-axis) oriented 3D IoU. One source of math for the CPU and CUDA paths.
//
// Rotations follow scipy.spatial.transform.Rotation.from_euler(seq, angles).as_matrix(): axes
// coded 0, 1, 2 for x, y, z; extrinsic (lower-case seq) R = R_k(a_k) ... R_1(a_1) R_0(a_0) (the
// first axis is applied first, about the fixed frame), intrinsic (upper-case) R = R_0(a_0) R_1(a_1)
// ... (about the moving frame). Elementary: R_x(a) = [[1,0,0],[0,c,-s],[0,s,c]], R_y(a) =
// [[c,0,s],[0,1,0],[-s,0,c]], R_z(a) = [[c,-s,0],[s,c,0],[0,0,1]].
//
// A rotated rectangle (cx, cy, w, h, theta) is {c + R(theta) u : |u| <= (w/2, h/2)}; an oriented
// 3D box (cx, cy, cz, sx, sy, sz, angles) is {c + R u : |u_k| <= s_k / 2}. A size <= 0 or any
// non-finite number is degenerate: IoU 0.
//
// Rectangle intersection: B's corners are moved into A's frame (translated by A's centre, rotated
// by -theta_A, and scaled by a power of two so that the larger box has extent about 1), where A
// is axis-aligned; B's quadrilateral is clipped by A's four edges (Sutherland-Hodgman) and the
// area of what is left is the shoelace sum, in double. Exact up to double rounding of the
// rotation; identical boxes give IoU 1 to rounding.
#pragma once
#include <cmath>
#include <cstdint>

#include "common/abi.h"
#include "common/macros.h"

namespace vr {

// ---- rotations --------------------------------------------------------------------------------

// R (row-major 3x3) of the Euler angles `angles[0..k)` about `axes[0..k)`.
VR_HD inline void euler_matrix(const double* angles, const int* axes, int k, bool intrinsic, double R[9]) {
  for (int r = 0; r < 9; ++r) R[r] = (r % 4 == 0) ? 1.0 : 0.0;
  for (int q = 0; q < k; ++q) {
    const double c = cos(angles[q]), s = sin(angles[q]);
    double E[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const int a = axes[q], i = (a + 1) % 3, j = (a + 2) % 3;  // rotation in the (i, j) plane
    E[i * 3 + i] = c;
    E[i * 3 + j] = -s;
    E[j * 3 + i] = s;
    E[j * 3 + j] = c;
    double M[9];
    for (int r = 0; r < 3; ++r)
      for (int col = 0; col < 3; ++col) {
        double v = 0.0;
        for (int t = 0; t < 3; ++t) v += intrinsic ? R[r * 3 + t] * E[t * 3 + col] : E[r * 3 + t] * R[t * 3 + col];
        M[r * 3 + col] = v;
      }
    for (int r = 0; r < 9; ++r) R[r] = M[r];
  }
}

// ---- rotated rectangles ------------------------------------------------------------------------

struct Rect {
  double cx = 0, cy = 0, hw = 0, hh = 0, c = 1, s = 0;
  bool ok = false;
};

// (cx, cy, w, h, theta); `unit` turns theta into radians (1, or pi / 180).
VR_HD inline Rect load_rect(double cx, double cy, double w, double h, double theta, double unit) {
  Rect r;
  const double t = theta * unit;
  r.ok = finite(cx) && finite(cy) && finite(w) && finite(h) && finite(t) && w > 0.0 && h > 0.0;
  if (!r.ok) return r;
  r.cx = cx, r.cy = cy, r.hw = 0.5 * w, r.hh = 0.5 * h, r.c = cos(t), r.s = sin(t);
  return r;
}

// Keeps the part of the polygon (n points, at most 8) with sign * coordinate[axis] <= limit.
VR_HD inline int clip_polygon(const double* px, const double* py, int n, int axis, double sign, double limit, double* qx,
                              double* qy) {
  int m = 0;
  for (int k = 0; k < n; ++k) {
    const int l = k + 1 == n ? 0 : k + 1;
    const double dk = sign * (axis == 0 ? px[k] : py[k]) - limit, dl = sign * (axis == 0 ? px[l] : py[l]) - limit;
    if (dk <= 0.0) qx[m] = px[k], qy[m] = py[k], ++m;
    if ((dk < 0.0 && dl > 0.0) || (dk > 0.0 && dl < 0.0)) {
      const double t = dk / (dk - dl);
      qx[m] = px[k] + t * (px[l] - px[k]);
      qy[m] = py[k] + t * (py[l] - py[k]);
      ++m;
    }
  }
  return m;
}

// Area of A ∩ B in A's frame scaled by 2^-e (returned with that scale folded back into `scale2`:
// true area = returned * scale2). Both rectangles must be ok.
VR_HD inline double rect_inter_scaled(const Rect& A, const Rect& B, double inv, double& hwa, double& hha) {
  // B's corners relative to A's centre, rotated by -theta_A, scaled by inv
  const double dx = (B.cx - A.cx) * inv, dy = (B.cy - A.cy) * inv;
  const double bx = A.c * dx + A.s * dy, by = -A.s * dx + A.c * dy;
  const double rc = A.c * B.c + A.s * B.s, rs = A.c * B.s - A.s * B.c;  // B's angle relative to A's
  const double ux = B.hw * inv, uy = B.hh * inv;
  double px[8], py[8], qx[8], qy[8];
  const double sx[4] = {1, -1, -1, 1}, sy[4] = {1, 1, -1, -1};  // counter-clockwise
  for (int k = 0; k < 4; ++k) {
    px[k] = bx + rc * (sx[k] * ux) - rs * (sy[k] * uy);
    py[k] = by + rs * (sx[k] * ux) + rc * (sy[k] * uy);
  }
  hwa = A.hw * inv, hha = A.hh * inv;
  int n = clip_polygon(px, py, 4, 0, 1.0, hwa, qx, qy);
  n = clip_polygon(qx, qy, n, 0, -1.0, hwa, px, py);
  n = clip_polygon(px, py, n, 1, 1.0, hha, qx, qy);
  n = clip_polygon(qx, qy, n, 1, -1.0, hha, px, py);
  double area2 = 0.0;
  for (int k = 0; k < n; ++k) {
    const int l = k + 1 == n ? 0 : k + 1;
    area2 += px[k] * py[l] - px[l] * py[k];
  }
  return n >= 3 ? vmax(0.5 * area2, 0.0) : 0.0;
}

// IoU of two rectangles, and (for the yaw-only 3D boxes) of two prisms whose heights overlap by
// `overlap` (the fraction of the product below: heights ha, hb, overlap o in the same units).
VR_HD inline double rect_iou(const Rect& A, const Rect& B) {
  if (!A.ok || !B.ok) return 0.0;
  int e = 0;
  frexp(vmax(vmax(A.hw, A.hh), vmax(B.hw, B.hh)), &e);
  const double inv = ldexp(1.0, -e);
  double hwa, hha;
  const double inter = rect_inter_scaled(A, B, inv, hwa, hha);
  const double aa = 4.0 * hwa * hha, ab = 4.0 * (B.hw * inv) * (B.hh * inv);
  const double uni = aa + ab - inter;
  return uni > 0.0 ? clamp01(inter / uni) : 0.0;
}

template <class T> VR_HD inline Rect rect_of(const T* r, double unit) {
  return load_rect(static_cast<double>(r[0]), static_cast<double>(r[1]), static_cast<double>(r[2]),
                   static_cast<double>(r[3]), static_cast<double>(r[4]), unit);
}

// A single-axis oriented 3D box (cx, cy, cz, sx, sy, sz, angle) rotated about `axis`: the
// rectangle across the axis, in the plane of the next two axes in cyclic order (so that the
// rotation is +angle there), and the extent along the axis. IoU = area IoU pieces times overlap.
template <class T> VR_HD inline double yaw_iou(const T* a, const T* b, int axis, double unit) {
  const int i = (axis + 1) % 3, j = (axis + 2) % 3;
  const Rect A = load_rect(static_cast<double>(a[i]), static_cast<double>(a[j]), static_cast<double>(a[3 + i]),
                           static_cast<double>(a[3 + j]), static_cast<double>(a[6]), unit);
  const Rect B = load_rect(static_cast<double>(b[i]), static_cast<double>(b[j]), static_cast<double>(b[3 + i]),
                           static_cast<double>(b[3 + j]), static_cast<double>(b[6]), unit);
  const double ca = static_cast<double>(a[axis]), sa = static_cast<double>(a[3 + axis]);
  const double cb = static_cast<double>(b[axis]), sb = static_cast<double>(b[3 + axis]);
  if (!A.ok || !B.ok || !(finite(ca) && finite(cb) && finite(sa) && finite(sb) && sa > 0.0 && sb > 0.0)) return 0.0;
  // all lengths scaled by one power of two (the largest extent about 1): no product overflows
  int e = 0;
  frexp(vmax(vmax(vmax(A.hw, A.hh), vmax(B.hw, B.hh)), 0.5 * vmax(sa, sb)), &e);
  const double inv = ldexp(1.0, -e);
  double hwa, hha;
  const double inter2 = rect_inter_scaled(A, B, inv, hwa, hha);
  const double lo = vmax((ca - 0.5 * sa) * inv, (cb - 0.5 * sb) * inv), hi = vmin((ca + 0.5 * sa) * inv, (cb + 0.5 * sb) * inv);
  const double ov = vmax(hi - lo, 0.0);
  const double va = 4.0 * hwa * hha * (sa * inv), vb = 4.0 * (B.hw * inv) * (B.hh * inv) * (sb * inv);
  const double inter = inter2 * ov;
  const double uni = va + vb - inter;
  return uni > 0.0 ? clamp01(inter / uni) : 0.0;
}

// ---- batched operators ---------------------------------------------------------------------------

// kind 0: rotated 2D (width 5); kind 1: yaw-only 3D about `axis` (width 7).
template <class T> struct OrientedIou {
  const T* a; int64_t a_stride;
  const T* b; int64_t b_stride;
  T* out;
  int kind, axis;
  double unit;
  VR_HD double iou(const T* p, const T* q) const {
    return kind == 0 ? rect_iou(rect_of(p, unit), rect_of(q, unit)) : yaw_iou(p, q, axis, unit);
  }
  VR_HD void operator()(int64_t i) const { out[i] = static_cast<T>(iou(a + i * a_stride, b + i * b_stride)); }
};

template <class T> struct OrientedIouPairwise {
  OrientedIou<T> op;  // a, b row strides are the box widths
  int64_t m;
  VR_HD void operator()(int64_t i, int64_t j) const {
    op.out[i * m + j] = static_cast<T>(op.iou(op.a + i * op.a_stride, op.b + j * op.b_stride));
  }
};

// Rotation matrices [n, 9] of angles [n, k]; corners [n, 8, 3] of boxes [n, 6 + k] (corner c has
// +s_d/2 on axis d when bit d of c is set, else -s_d/2, rotated then translated). With k = 0 and
// aabb the boxes are (x1, y1, z1, x2, y2, z2) hulls and corner c takes max on axis d when bit d is set.
template <class T> struct EulerRows {
  const T* angles;  // [n, k]
  int axes[3];
  int k;
  bool intrinsic, aabb;
  double unit;
  const T* boxes;   // [n, 6 + k] for corners, or null
  T* out;           // [n, 9] matrices or [n, 24] corners
  VR_HD void operator()(int64_t i) const {
    double ang[3] = {0, 0, 0}, R[9];
    const T* row = boxes != nullptr ? boxes + i * (6 + k) : angles + i * k;
    const T* a = boxes != nullptr ? row + 6 : row;
    for (int q = 0; q < k; ++q) ang[q] = static_cast<double>(a[q]) * unit;
    euler_matrix(ang, axes, k, intrinsic, R);
    if (boxes == nullptr) {
      for (int r = 0; r < 9; ++r) out[i * 9 + r] = static_cast<T>(R[r]);
      return;
    }
    for (int c = 0; c < 8; ++c) {
      double u[3];
      for (int d = 0; d < 3; ++d) {
        const double lo = static_cast<double>(row[d]), hi = static_cast<double>(row[3 + d]);
        u[d] = aabb ? ((c >> d) & 1 ? vmax(lo, hi) : vmin(lo, hi)) : ((c >> d) & 1 ? 0.5 : -0.5) * hi;
      }
      for (int r = 0; r < 3; ++r) {
        double v = aabb ? u[r] : static_cast<double>(row[r]);
        if (!aabb) v += R[r * 3] * u[0] + R[r * 3 + 1] * u[1] + R[r * 3 + 2] * u[2];
        out[i * 24 + c * 3 + r] = static_cast<T>(v);
      }
    }
  }
};

#define VR_ORIENTED_ARGS(X)                                                         \
  X(DType, dtype, DType::Float32)                                                   \
  X(Device, device, Device{})                                                       \
  X(int64_t, n, 0)                                                                  \
  X(int64_t, m, 0)             /* pairwise: rows of b */                            \
  X(std::uintptr_t, a, 0)                                                           \
  X(std::uintptr_t, b, 0)                                                           \
  X(std::uintptr_t, out, 0)                                                         \
  X(int64_t, a_stride, 0)      /* elementwise: 0 broadcasts a row, else the width */ \
  X(int64_t, b_stride, 0)                                                           \
  X(int, kind, 0)              /* 0 rotated 2D, 1 yaw-only 3D */                    \
  X(int, axis, 2)              /* yaw-only 3D: the rotation axis */                 \
  X(double, unit, 1.0)         /* radians per angle unit */
struct OrientedArgs { VR_ORIENTED_ARGS(VR_ARG_MEMBER) };

#define VR_EULER_ARGS(X)                                                   \
  X(DType, dtype, DType::Float32)                                          \
  X(Device, device, Device{})                                              \
  X(int64_t, n, 0)                                                         \
  X(int, k, 0)                 /* axes in the sequence, 0 to 3 */          \
  X(int, axis0, 0)                                                         \
  X(int, axis1, 0)                                                         \
  X(int, axis2, 0)                                                         \
  X(bool, intrinsic, false)                                                \
  X(bool, aabb, false)         /* corners of (x1, y1, z1, x2, y2, z2) */   \
  X(double, unit, 1.0)                                                     \
  X(std::uintptr_t, angles, 0) /* [n, k] (rotation_matrix) */              \
  X(std::uintptr_t, boxes, 0)  /* [n, 6 + k] (box_corners_3d) */           \
  X(std::uintptr_t, out, 0)
struct EulerArgs { VR_EULER_ARGS(VR_ARG_MEMBER) };

template <class T> OrientedIou<T> oriented_functor(const OrientedArgs& p) {
  return OrientedIou<T>{ptr<const T>(p.a), p.a_stride, ptr<const T>(p.b), p.b_stride, ptr<T>(p.out), p.kind, p.axis, p.unit};
}

template <class Exec> void oriented_iou(const Exec& ex, const OrientedArgs& p) {
  dispatch_float(p.dtype, [&](auto t) { ex.for_each(p.n, oriented_functor<decltype(t)>(p), 1024); });
}
template <class Exec> void oriented_iou_pairwise(const Exec& ex, const OrientedArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    ex.for_each_2d(p.n, p.m, OrientedIouPairwise<decltype(t)>{oriented_functor<decltype(t)>(p), p.m}, 1024);
  });
}
template <class Exec> void euler_rows(const Exec& ex, const EulerArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    ex.for_each(p.n, EulerRows<T>{ptr<const T>(p.angles), {p.axis0, p.axis1, p.axis2}, p.k, p.intrinsic, p.aabb, p.unit,
                                  ptr<const T>(p.boxes), ptr<T>(p.out)}, 1024);
  });
}

void oriented_iou_cpu(const OrientedArgs& p);
void oriented_iou_pairwise_cpu(const OrientedArgs& p);
void euler_rows_cpu(const EulerArgs& p);
#ifdef VR_WITH_CUDA
void oriented_iou_cuda(const OrientedArgs& p);
void oriented_iou_pairwise_cuda(const OrientedArgs& p);
void euler_rows_cuda(const EulerArgs& p);
#endif

}  // namespace vr
