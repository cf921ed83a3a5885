// Euler-angle rotation matrices (scipy's Rotation.from_euler convention; see oriented/oriented.h),
// shared by the oriented IoU, projection and containment kernels.
#pragma once
#include <cmath>

#include "common/macros.h"

namespace vr {

// R (row-major 3x3) of the Euler angles `angles[0..k)` about `axes[0..k)`; with 0 <= deriv < k,
// the partial derivative dR / d angles[deriv] instead (that factor replaced by its derivative).
VR_HD inline void euler_matrix(const double* angles, const int* axes, int k, bool intrinsic, double R[9],
                               int deriv = -1) {
  for (int r = 0; r < 9; ++r) R[r] = (r % 4 == 0) ? 1.0 : 0.0;
  for (int q = 0; q < k; ++q) {
    const double c = cos(angles[q]), s = sin(angles[q]);
    const int a = axes[q], i = (a + 1) % 3, j = (a + 2) % 3;  // rotation in the (i, j) plane
    double E[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    if (q == deriv) E[a * 3 + a] = 0.0;
    E[i * 3 + i] = q == deriv ? -s : c;
    E[i * 3 + j] = q == deriv ? -c : -s;
    E[j * 3 + i] = q == deriv ? c : s;
    E[j * 3 + j] = q == deriv ? -s : c;
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

// The rotation of an oriented box: its Euler sequence (axes, k, intrinsic) and angle unit.
struct BoxSeq {
  int axes[3] = {0, 0, 0};
  int k = 0;
  bool intrinsic = false;
  double unit = 1.0;
  // R of the box row (cx, cy, cz, sx, sy, sz, angles...); false for a non-finite angle
  template <class T> VR_HD bool matrix(const T* row, double R[9]) const {
    double ang[3] = {0, 0, 0};
    bool ok = true;
    for (int q = 0; q < k; ++q) {
      ang[q] = static_cast<double>(row[6 + q]) * unit;
      ok = ok && finite(ang[q]);
    }
    euler_matrix(ang, axes, k, intrinsic, R);
    return ok;
  }
};

// The rotation fields of an op's argument struct (an X-macro list, see common/abi.h): an oriented
// box's Euler sequence and angle unit, declared once for every op that takes oriented boxes.
#define VR_ROTATION_ARGS(X)                                                  \
  X(int, k, 0)                 /* rotation axes (0: none) */                 \
  X(int, axis0, 0)             /* 0 x, 1 y, 2 z */                           \
  X(int, axis1, 0)                                                           \
  X(int, axis2, 0)                                                           \
  X(bool, intrinsic, false)                                                  \
  X(double, unit, 1.0)         /* radians per written angle unit */

// The BoxSeq of an argument struct holding VR_ROTATION_ARGS.
template <class A> inline BoxSeq box_seq_of(const A& p) {
  BoxSeq seq;
  seq.axes[0] = p.axis0, seq.axes[1] = p.axis1, seq.axes[2] = p.axis2;
  seq.k = p.k, seq.intrinsic = p.intrinsic, seq.unit = p.unit;
  return seq;
}

// Whether VR_ROTATION_ARGS are consistent; *why says what is wrong otherwise.
template <class A> inline bool rotation_ok(const A& p, const char** why) {
  if (p.k < 0 || p.k > 3 || p.axis0 < 0 || p.axis0 > 2 || p.axis1 < 0 || p.axis1 > 2 || p.axis2 < 0 || p.axis2 > 2)
    return *why = "bad rotation sequence", false;
  if (!(finite(p.unit) && p.unit > 0.0)) return *why = "unit must be finite and > 0", false;
  return true;
}

}  // namespace vr
