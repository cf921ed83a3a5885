// Gradients of the oriented IoUs (rotated 2D, yaw-only and general oriented 3D) with respect to
// every number of both boxes: centres, sizes and angles. One __host__ __device__ source for the
// CPU and CUDA backward kernels.
//
// The intersection I = A ∩ B is the set where the twelve face constraints of the two boxes hold,
// g(x) = s_k / 2 − σ R_k · (x − c) ≥ 0 for each axis k and sign σ (R_k the k-th column of R).
// Moving a parameter θ moves each face's plane; the volume changes by the flux of that motion
// through the part of the face on I's boundary (Reynolds' transport theorem):
//
//   dI/dθ = Σ_faces ∫_face ∂g/∂θ dA,  with  ∂g/∂c = σ R_k,  ∂g/∂s_k = 1/2,
//           ∂g/∂α_q = −σ (∂R_k/∂α_q) · (x − c),
//
// and ∫_face (x − c) dA is the face's first moment, exact from its polygon (a fan of triangles).
// The clipping of oriented.h tags every face of I with the plane it lies in, so the sum is exact
// up to double rounding. The volumes of A and B are products of sizes, and
// dIoU = (dI·(U + I) − I·(dV_A + dV_B)) / U² with U the union. Everything is computed in A's
// scaled frame (oriented.h), so nothing overflows; length gradients scale back by the same power
// of two. The IoU is not differentiable where faces coincide or where it is 0; there this gives
// one one-sided value (a coincident face counts as A's), and 0 where the IoU is 0 by rule
// (degenerate, non-finite or disjoint boxes). A rotated rectangle is the prism of height H over it
// with both boxes spanning the same heights (the prisms' IoU is the rectangles' IoU, for any H).
#pragma once
#include "oriented/oriented.h"

namespace vr {

// d IoU / d row for both boxes (cx, cy, cz, sx, sy, sz, k angles), times g; ga, gb [6 + k].
template <class T> VR_HD inline void oriented_box_iou_grad(const T* a, const T* b, const int* axes, int k,
                                                           bool intrinsic, double unit, double g, double* ga,
                                                           double* gb) {
  for (int q = 0; q < 6 + k; ++q) ga[q] = gb[q] = 0.0;
  BoxPair P;
  if (!finite(g) || !load_box_pair(a, b, axes, k, intrinsic, unit, P)) return;
  Polyhedron bufs[2];
  const Polyhedron* H = clip_box_pair(P, bufs);
  if (H == nullptr) return;
  const double inter = polyhedron_volume(*H);
  if (!(inter > 0.0)) return;
  // Ra^T dRa/dα_q and Ra^T dRb/dα_q: a face's angle term in A's frame
  double OA[3][9], OB[3][9];
  for (int q = 0; q < k; ++q) {
    double DA[9], DB[9];
    euler_matrix(P.ang_a, axes, k, intrinsic, DA, q);
    euler_matrix(P.ang_b, axes, k, intrinsic, DB, q);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        double x = 0.0, y = 0.0;
        for (int t = 0; t < 3; ++t) x += P.Ra[t * 3 + r] * DA[t * 3 + c], y += P.Ra[t * 3 + r] * DB[t * 3 + c];
        OA[q][r * 3 + c] = x, OB[q][r * 3 + c] = y;
      }
  }
  double dc[2][3] = {{0, 0, 0}, {0, 0, 0}}, ds[2][3] = {{0, 0, 0}, {0, 0, 0}}, dang[2][3] = {{0, 0, 0}, {0, 0, 0}};
  for (int f = 0; f < H->nf; ++f) {
    const Poly3& F = H->f[f];
    const int box = F.tag / 6, ax = (F.tag % 6) / 2;
    const double sg = (F.tag & 1) ? 1.0 : -1.0;
    double n[3];  // the outward normal in A's frame
    for (int r = 0; r < 3; ++r) n[r] = box == 0 ? (r == ax ? sg : 0.0) : sg * P.rel[r * 3 + ax];
    double area = 0.0, mom[3] = {0, 0, 0};
    for (int t = 1; t + 1 < F.n; ++t) {
      const double* p0 = F.p[0];
      const double* p1 = F.p[t];
      const double* p2 = F.p[t + 1];
      const double u[3] = {p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]};
      const double v[3] = {p2[0] - p0[0], p2[1] - p0[1], p2[2] - p0[2]};
      const double tri = 0.5 * (n[0] * (u[1] * v[2] - u[2] * v[1]) + n[1] * (u[2] * v[0] - u[0] * v[2]) +
                                n[2] * (u[0] * v[1] - u[1] * v[0]));
      area += tri;
      for (int r = 0; r < 3; ++r) mom[r] += tri * (p0[r] + p1[r] + p2[r]) / 3.0;
    }
    for (int r = 0; r < 3; ++r) dc[box][r] += n[r] * area;  // A's frame; turned into the world's below
    ds[box][ax] += 0.5 * area;
    for (int q = 0; q < k; ++q) {
      const double* O = box == 0 ? OA[q] : OB[q];
      double x = 0.0;  // (Ra^T dR/dα_q)[:, ax] . (first moment about the box's own centre)
      for (int r = 0; r < 3; ++r) x += O[r * 3 + ax] * (mom[r] - (box == 0 ? 0.0 : P.cbl[r] * area));
      dang[box][q] -= sg * x;
    }
  }
  const double* h[2] = {P.h, P.g};
  const double va = 8.0 * P.h[0] * P.h[1] * P.h[2], vb = 8.0 * P.g[0] * P.g[1] * P.g[2];
  const double uni = va + vb - inter;
  if (!(uni > 0.0)) return;
  const double w = g / (uni * uni);
  for (int box = 0; box < 2; ++box) {
    double* out = box == 0 ? ga : gb;
    for (int r = 0; r < 3; ++r) {
      double x = 0.0;  // world = Ra · (A's frame)
      for (int t = 0; t < 3; ++t) x += P.Ra[r * 3 + t] * dc[box][t];
      out[r] = w * x * (uni + inter) * P.inv;
      const int i = (r + 1) % 3, j = (r + 2) % 3;
      const double dv = 4.0 * h[box][i] * h[box][j];
      out[3 + r] = w * (ds[box][r] * (uni + inter) - inter * dv) * P.inv;
    }
    for (int q = 0; q < k; ++q) out[6 + q] = w * dang[box][q] * (uni + inter) * unit;
  }
}

// The backward of OrientedIou: per pair, grad_out[i] · d IoU / d (row of a), (row of b).
template <class T> struct OrientedIouBackward {
  OrientedIou<T> op;
  const T* grad_out;  // [n]
  T* grad_a;          // [n, width] each, dense
  T* grad_b;
  VR_HD void operator()(int64_t i) const {
    const T* p = op.a + i * op.a_stride;
    const T* q = op.b + i * op.b_stride;
    const double g = static_cast<double>(grad_out[i]);
    double ga[9], gb[9];
    int width;
    if (op.kind == 0) {  // the rectangles as prisms of one common height about z
      double pa[7], pb[7];
      for (int r = 0; r < 2; ++r) pa[r] = static_cast<double>(p[r]), pb[r] = static_cast<double>(q[r]);
      pa[3] = static_cast<double>(p[2]), pa[4] = static_cast<double>(p[3]), pa[6] = static_cast<double>(p[4]);
      pb[3] = static_cast<double>(q[2]), pb[4] = static_cast<double>(q[3]), pb[6] = static_cast<double>(q[4]);
      const double height = vmax(vmax(fabs(pa[3]), fabs(pa[4])), vmax(fabs(pb[3]), fabs(pb[4])));
      pa[2] = pb[2] = 0.0, pa[5] = pb[5] = finite(height) && height > 0.0 ? height : 1.0;
      const int z[1] = {2};
      oriented_box_iou_grad(pa, pb, z, 1, false, op.unit, g, ga, gb);
      const int from[5] = {0, 1, 3, 4, 6};
      for (int r = 0; r < 5; ++r) ga[r] = ga[from[r]], gb[r] = gb[from[r]];
      width = 5;
    } else if (op.kind == 1) {
      const int ax[1] = {op.axis};
      oriented_box_iou_grad(p, q, ax, 1, false, op.unit, g, ga, gb);
      width = 7;
    } else {
      oriented_box_iou_grad(p, q, op.axes, op.k, op.intrinsic, op.unit, g, ga, gb);
      width = 6 + op.k;
    }
    for (int r = 0; r < width; ++r) {
      grad_a[i * width + r] = static_cast<T>(ga[r]);
      grad_b[i * width + r] = static_cast<T>(gb[r]);
    }
  }
};

template <class Exec> void oriented_iou_backward(const Exec& ex, const OrientedArgs& p) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    ex.for_each(p.n, OrientedIouBackward<T>{oriented_functor<T>(p), ptr<const T>(p.grad_out), ptr<T>(p.grad_a),
                                            ptr<T>(p.grad_b)}, 64);
  });
}

void oriented_iou_backward_cpu(const OrientedArgs& p);
#ifdef VR_WITH_CUDA
void oriented_iou_backward_cuda(const OrientedArgs& p);
#endif

}  // namespace vr
