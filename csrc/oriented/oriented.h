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
// Why this file passes 400 lines: the rotations, the rectangle clipping, the yaw path and the
// general polyhedron clipping share their helpers (frames, power-of-two scaling, clipping) and
// are one __host__ __device__ unit that the CPU and CUDA translation units both include.
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
#include "common/rotation.h"

namespace vr {

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
  // the overlap along the axis relative to A's centre, as the rectangle's is: where the boxes are
  // does not matter (identical boxes at 1e8 overlap by exactly their size; an overflowing
  // difference is an infinite distance, no overlap)
  const double d = (cb - ca) * inv;
  const double lo = vmax(-0.5 * sa * inv, d - 0.5 * sb * inv), hi = vmin(0.5 * sa * inv, d + 0.5 * sb * inv);
  const double ov = vmax(hi - lo, 0.0);
  const double va = 4.0 * hwa * hha * (sa * inv), vb = 4.0 * (B.hw * inv) * (B.hh * inv) * (sb * inv);
  const double inter = inter2 * ov;
  const double uni = va + vb - inter;
  return uni > 0.0 ? clamp01(inter / uni) : 0.0;
}

// ---- general oriented 3D boxes: convex polyhedron clipping -------------------------------------
//
// The intersection of boxes A and B, in A's frame scaled by a power of two: A's six faces (convex
// polygons, counter-clockwise seen from outside) are clipped by B's six half-spaces one after the
// other (Sutherland-Hodgman per face); each plane that cuts adds its cap, the convex polygon of the
// points where the polyhedron meets the plane, ordered counter-clockwise about the plane's outward
// normal. The volume is the divergence theorem's sum over the faces, (1/6) sum det(p0, p_i, p_i+1)
// with A's centre as origin. A vertex within kPlaneTol of a plane counts as on it, so that shared
// and coplanar faces (identical boxes, a box and its 90-degree turn) neither cut slivers nor add
// caps: a face lying in the plane and facing outward already closes the polyhedron there (no cap);
// one facing inward (boxes that only touch) gets the cap that cancels it (volume 0). Crossing
// points are computed from the inside endpoint, so the two faces that share an edge get the same
// point bit for bit.
constexpr int kPolyMax = 16, kFaceMax = 14, kCapMax = 32;
constexpr double kPlaneTol = 1e-13;  // in the scaled frame (the larger box has extent about 1)

struct Poly3 {
  int n = 0;
  int tag = 0;  // the plane it lies in: 0-5 A's faces, 6-11 B's (6 * box + 2 * axis + (sign > 0))
  double p[kPolyMax][3];
};
struct Polyhedron {
  int nf = 0;
  Poly3 f[kFaceMax];
};

VR_HD inline void copy3(const double* a, double* b) { b[0] = a[0], b[1] = a[1], b[2] = a[2]; }

// Clips the polyhedron `in` by {x : n . x <= d}, writing `out`; the cap is tagged `tag`.
VR_HD inline void clip_polyhedron(const Polyhedron& in, const double n[3], double d, int tag, Polyhedron& out) {
  out.nf = 0;
  double cap[kCapMax][3];
  int nc = 0;
  bool cut = false, coplanar = false;
  const auto add_cap = [&](const double* q) {
    for (int k = 0; k < nc; ++k)
      if (cap[k][0] == q[0] && cap[k][1] == q[1] && cap[k][2] == q[2]) return;
    if (nc < kCapMax) copy3(q, cap[nc++]);
  };
  for (int f = 0; f < in.nf; ++f) {
    const Poly3& P = in.f[f];
    double dist[kPolyMax];
    bool all_on = true;
    for (int k = 0; k < P.n; ++k) {
      double v = n[0] * P.p[k][0] + n[1] * P.p[k][1] + n[2] * P.p[k][2] - d;
      if (v >= -kPlaneTol && v <= kPlaneTol) v = 0.0;
      dist[k] = v;
      cut = cut || v > 0.0;
      all_on = all_on && v == 0.0;
    }
    if (all_on && P.n >= 3) {  // a face in the plane: does it face outward (along n)? Newell's normal
      double N[3] = {0, 0, 0};
      for (int k = 0; k < P.n; ++k) {
        const double* a = P.p[k];
        const double* b = P.p[k + 1 == P.n ? 0 : k + 1];
        N[0] += (a[1] - b[1]) * (a[2] + b[2]);
        N[1] += (a[2] - b[2]) * (a[0] + b[0]);
        N[2] += (a[0] - b[0]) * (a[1] + b[1]);
      }
      coplanar = coplanar || N[0] * n[0] + N[1] * n[1] + N[2] * n[2] > 0.0;
    }
    if (out.nf >= kFaceMax) continue;
    Poly3& Q = out.f[out.nf];  // written in place, kept when it has 3 vertices
    Q.n = 0;
    Q.tag = P.tag;
    for (int k = 0; k < P.n; ++k) {
      const int l = k + 1 == P.n ? 0 : k + 1;
      if (dist[k] <= 0.0 && Q.n < kPolyMax) {
        copy3(P.p[k], Q.p[Q.n++]);
        if (dist[k] == 0.0) add_cap(P.p[k]);
      }
      if ((dist[k] < 0.0 && dist[l] > 0.0) || (dist[k] > 0.0 && dist[l] < 0.0)) {
        const int a = dist[k] < 0.0 ? k : l, b = dist[k] < 0.0 ? l : k;  // from the inside endpoint
        const double t = dist[a] / (dist[a] - dist[b]);
        double x[3];
        for (int c = 0; c < 3; ++c) x[c] = P.p[a][c] + t * (P.p[b][c] - P.p[a][c]);
        if (Q.n < kPolyMax) copy3(x, Q.p[Q.n++]);
        add_cap(x);
      }
    }
    if (Q.n >= 3) ++out.nf;
  }
  if (!cut || coplanar || nc < 3 || out.nf >= kFaceMax) return;
  // the cap: its points sorted by angle about their centroid, counter-clockwise about n
  double c[3] = {0, 0, 0};
  for (int k = 0; k < nc; ++k)
    for (int q = 0; q < 3; ++q) c[q] += cap[k][q] / nc;
  const int m = (fabs(n[0]) < 0.6) ? 0 : (fabs(n[1]) < 0.6 ? 1 : 2);  // an axis not along n
  double u[3] = {0, 0, 0};
  u[m] = 1.0;
  double v[3] = {n[1] * u[2] - n[2] * u[1], n[2] * u[0] - n[0] * u[2], n[0] * u[1] - n[1] * u[0]};  // n x u
  const double w[3] = {v[1] * n[2] - v[2] * n[1], v[2] * n[0] - v[0] * n[2], v[0] * n[1] - v[1] * n[0]};  // v x n
  double ang[kCapMax];
  int order[kCapMax];
  for (int k = 0; k < nc; ++k) {
    const double e[3] = {cap[k][0] - c[0], cap[k][1] - c[1], cap[k][2] - c[2]};
    ang[k] = atan2(v[0] * e[0] + v[1] * e[1] + v[2] * e[2], w[0] * e[0] + w[1] * e[1] + w[2] * e[2]);
    order[k] = k;
  }
  for (int k = 1; k < nc; ++k)  // insertion sort: a handful of points
    for (int j = k; j > 0 && ang[order[j]] < ang[order[j - 1]]; --j) {
      const int s = order[j];
      order[j] = order[j - 1];
      order[j - 1] = s;
    }
  Poly3& C = out.f[out.nf++];
  C.n = 0;
  C.tag = tag;
  for (int k = 0; k < nc && C.n < kPolyMax; ++k) copy3(cap[order[k]], C.p[C.n++]);
}

VR_HD inline double polyhedron_volume(const Polyhedron& H) {
  double vol = 0.0;
  for (int f = 0; f < H.nf; ++f) {
    const Poly3& P = H.f[f];
    for (int k = 1; k + 1 < P.n; ++k) {
      const double* a = P.p[0];
      const double* b = P.p[k];
      const double* c = P.p[k + 1];
      vol += a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0]);
    }
  }
  return vol / 6.0;
}

// Two oriented boxes in A's frame, scaled by a power of two (inv) so that the larger has extent
// about 1: half sizes h (A) and g (B), B's centre cbl and rotation rel = Ra^T Rb there.
struct BoxPair {
  double ca[3], cb[3], ang_a[3], ang_b[3], Ra[9], Rb[9];
  double h[3], g[3], cbl[3], rel[9], inv;
};

// Whether a separating axis proves the boxes apart (the 15 axes of two boxes: A's, B's and their
// cross products, in A's scaled frame). Only a clear gap counts (1e-12 of the larger box's extent,
// and |R| padded, as parallel edges make a cross axis vanish): touching and coplanar pairs go on
// to the clip, which gives them their exact 0. A fast exit only: the clip decides everything else.
VR_HD inline bool separated(const BoxPair& P) {
  constexpr double kGap = 1e-12;
  const double* h = P.h;
  const double* g = P.g;
  const double* T = P.cbl;
  double R[3][3], A[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) R[i][j] = P.rel[i * 3 + j], A[i][j] = fabs(R[i][j]) + kGap;
  for (int i = 0; i < 3; ++i)  // A's axes
    if (fabs(T[i]) > h[i] + g[0] * A[i][0] + g[1] * A[i][1] + g[2] * A[i][2] + kGap) return true;
  for (int j = 0; j < 3; ++j) {  // B's axes
    const double t = T[0] * R[0][j] + T[1] * R[1][j] + T[2] * R[2][j];
    if (fabs(t) > h[0] * A[0][j] + h[1] * A[1][j] + h[2] * A[2][j] + g[j] + kGap) return true;
  }
  for (int i = 0; i < 3; ++i) {  // A_i x B_j
    const int i1 = (i + 1) % 3, i2 = (i + 2) % 3;
    for (int j = 0; j < 3; ++j) {
      const int j1 = (j + 1) % 3, j2 = (j + 2) % 3;
      const double t = T[i2] * R[i1][j] - T[i1] * R[i2][j];
      const double r = h[i1] * A[i2][j] + h[i2] * A[i1][j] + g[j1] * A[i][j2] + g[j2] * A[i][j1];
      if (fabs(t) > r + kGap) return true;
    }
  }
  return false;
}

// Loads the rows (cx, cy, cz, sx, sy, sz, k angles); false for a degenerate box or a pair that is
// apart (circumspheres, then a separating axis: IoU 0).
template <class T> VR_HD inline bool load_box_pair(const T* a, const T* b, const int* axes, int k, bool intrinsic,
                                                   double unit, BoxPair& P) {
  double ha[3], hb[3];
  bool ok = true;
  for (int q = 0; q < 3; ++q) {
    P.ca[q] = static_cast<double>(a[q]), P.cb[q] = static_cast<double>(b[q]);
    ha[q] = 0.5 * static_cast<double>(a[3 + q]), hb[q] = 0.5 * static_cast<double>(b[3 + q]);
    ok = ok && finite(P.ca[q]) && finite(P.cb[q]) && finite(ha[q]) && finite(hb[q]) && ha[q] > 0.0 && hb[q] > 0.0;
    P.ang_a[q] = P.ang_b[q] = 0.0;
  }
  for (int q = 0; q < k; ++q) {
    P.ang_a[q] = static_cast<double>(a[6 + q]) * unit, P.ang_b[q] = static_cast<double>(b[6 + q]) * unit;
    ok = ok && finite(P.ang_a[q]) && finite(P.ang_b[q]);
  }
  if (!ok) return false;
  euler_matrix(P.ang_a, axes, k, intrinsic, P.Ra);
  euler_matrix(P.ang_b, axes, k, intrinsic, P.Rb);
  int e = 0;
  frexp(vmax(vmax(vmax(ha[0], ha[1]), vmax(ha[2], hb[0])), vmax(hb[1], hb[2])), &e);
  P.inv = ldexp(1.0, -e);
  double d[3];
  for (int q = 0; q < 3; ++q) d[q] = (P.cb[q] - P.ca[q]) * P.inv;  // B's centre from A's, scaled
  for (int r = 0; r < 3; ++r) {
    P.cbl[r] = P.Ra[0 * 3 + r] * d[0] + P.Ra[1 * 3 + r] * d[1] + P.Ra[2 * 3 + r] * d[2];  // Ra^T d
    for (int c = 0; c < 3; ++c)
      P.rel[r * 3 + c] = P.Ra[0 * 3 + r] * P.Rb[0 * 3 + c] + P.Ra[1 * 3 + r] * P.Rb[1 * 3 + c] + P.Ra[2 * 3 + r] * P.Rb[2 * 3 + c];
  }
  for (int q = 0; q < 3; ++q) P.h[q] = ha[q] * P.inv, P.g[q] = hb[q] * P.inv;
  if (!(finite(P.cbl[0]) && finite(P.cbl[1]) && finite(P.cbl[2]))) return false;  // farther apart than any double
  // separated by more than the sum of the circumradii: no intersection
  const double* h = P.h;
  const double* g = P.g;
  const double reach = sqrt(h[0] * h[0] + h[1] * h[1] + h[2] * h[2]) + sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
  if (P.cbl[0] * P.cbl[0] + P.cbl[1] * P.cbl[1] + P.cbl[2] * P.cbl[2] > reach * reach * (1.0 + 1e-12)) return false;
  return !separated(P);
}

// A ∩ B in A's scaled frame: A's faces clipped by B's six half-spaces; null when empty. Every face
// is tagged with the plane it lies in (Poly3::tag).
VR_HD inline const Polyhedron* clip_box_pair(const BoxPair& P, Polyhedron bufs[2]) {
  int cur = 0;
  Polyhedron& H = bufs[0];
  H.nf = 0;
  for (int ax = 0; ax < 3; ++ax)  // A's faces, counter-clockwise seen from outside
    for (int s = -1; s <= 1; s += 2) {
      const int i = (ax + 1) % 3, j = (ax + 2) % 3;
      const double su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
      Poly3& F = H.f[H.nf++];
      F.n = 4;
      F.tag = 2 * ax + (s > 0);
      for (int k2 = 0; k2 < 4; ++k2) {
        const int kk = s > 0 ? k2 : 3 - k2;
        F.p[k2][ax] = s * P.h[ax];
        F.p[k2][i] = su[kk] * P.h[i];
        F.p[k2][j] = sv[kk] * P.h[j];
      }
    }
  for (int ax = 0; ax < 3; ++ax)  // B's half-spaces: +-axis_ax . (x - cb) <= g_ax
    for (int s = -1; s <= 1; s += 2) {
      const double n[3] = {s * P.rel[0 * 3 + ax], s * P.rel[1 * 3 + ax], s * P.rel[2 * 3 + ax]};
      const double off = P.g[ax] + n[0] * P.cbl[0] + n[1] * P.cbl[1] + n[2] * P.cbl[2];
      clip_polyhedron(bufs[cur], n, off, 6 + 2 * ax + (s > 0), bufs[1 - cur]);
      cur = 1 - cur;
      if (bufs[cur].nf == 0) return nullptr;
    }
  return &bufs[cur];
}

// IoU of two oriented boxes (cx, cy, cz, sx, sy, sz, k angles) with the Euler sequence (axes, k,
// intrinsic) and the angle unit.
template <class T> VR_HD inline double oriented_box_iou(const T* a, const T* b, const int* axes, int k, bool intrinsic,
                                                        double unit) {
  BoxPair P;
  if (!load_box_pair(a, b, axes, k, intrinsic, unit, P)) return 0.0;
  Polyhedron bufs[2];
  const Polyhedron* H = clip_box_pair(P, bufs);
  if (H == nullptr) return 0.0;
  const double inter = vmax(polyhedron_volume(*H), 0.0);
  const double va = 8.0 * P.h[0] * P.h[1] * P.h[2], vb = 8.0 * P.g[0] * P.g[1] * P.g[2];
  const double uni = va + vb - inter;
  return uni > 0.0 ? clamp01(inter / uni) : 0.0;
}

// ---- batched operators ---------------------------------------------------------------------------

// kind 0: rotated 2D (width 5); kind 1: yaw-only 3D about `axis` (width 7); kind 2: oriented 3D
// with the Euler sequence (axes, k, intrinsic) (width 6 + k), by polyhedron clipping.
template <class T> struct OrientedIou {
  const T* a; int64_t a_stride;
  const T* b; int64_t b_stride;
  T* out;
  int kind, axis;
  double unit;
  int axes[3];
  int k;
  bool intrinsic;
  VR_HD double iou(const T* p, const T* q) const {
    if (kind == 0) return rect_iou(rect_of(p, unit), rect_of(q, unit));
    if (kind == 1) return yaw_iou(p, q, axis, unit);
    return oriented_box_iou(p, q, axes, k, intrinsic, unit);
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
  X(int, kind, 0)              /* 0 rotated 2D, 1 yaw-only 3D, 2 oriented 3D */     \
  X(int, axis, 2)              /* yaw-only 3D: the rotation axis */                 \
  X(double, unit, 1.0)         /* radians per angle unit */                         \
  X(int, k, 0)                 /* oriented 3D: axes in the Euler sequence */        \
  X(int, axis0, 0)                                                                  \
  X(int, axis1, 0)                                                                  \
  X(int, axis2, 0)                                                                  \
  X(bool, intrinsic, false)                                                         \
  X(std::uintptr_t, grad_out, 0) /* backward: [n] */                                \
  X(std::uintptr_t, grad_a, 0)   /* backward: [n, width] each, dense */              \
  X(std::uintptr_t, grad_b, 0)
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
  return OrientedIou<T>{ptr<const T>(p.a), p.a_stride, ptr<const T>(p.b), p.b_stride, ptr<T>(p.out), p.kind, p.axis, p.unit,
                        {p.axis0, p.axis1, p.axis2}, p.k, p.intrinsic};
}

template <class Exec> void oriented_iou(const Exec& ex, const OrientedArgs& p) {
  dispatch_float(p.dtype, [&](auto t) { ex.for_each(p.n, oriented_functor<decltype(t)>(p), p.kind == 2 ? 64 : 1024); });
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
