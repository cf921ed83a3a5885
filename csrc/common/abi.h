// The flat surface between the Python layer and the kernels: raw pointers that Python validated,
// a dtype code, and a device (type, index, stream). No libtorch anywhere.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace vr {

enum class DType : int { Float32 = 0, Float64 = 1 };

// Argument structs are declared once, as a field list LIST(X) of X(type, name, default) entries
// (the X-macro idiom): VR_ARG_MEMBER expands a list into the struct's members here, and
// VR_BIND_ARGS (common/bind.h) into its Python binding beside the op, so that adding an argument
// touches one line.
#define VR_ARG_MEMBER(type, name, init) type name = init;

#define VR_DEVICE_FIELDS(X)                                                                       \
  X(int, type, 0)              /* 0: CPU, 1: CUDA */                                            \
  X(int, index, 0)             /* CUDA ordinal */                                               \
  X(std::uintptr_t, stream, 0) /* cudaStream_t of the caller's framework (0: legacy default) */
struct Device {
  VR_DEVICE_FIELDS(VR_ARG_MEMBER)
  bool is_cuda() const { return type == 1; }
};

template <class T> inline T* ptr(std::uintptr_t p) { return reinterpret_cast<T*>(p); }

// Calls f(T{}) with T the C++ type of the dtype code.
template <class F> void dispatch_float(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: f(float{}); return;
    case DType::Float64: f(double{}); return;
  }
  throw std::invalid_argument("verireward: unknown dtype code " + std::to_string(static_cast<int>(dtype)));
}

// Calls f(std::integral_constant<int, D>) for D = 2 or 3.
template <int D> struct Dim { static constexpr int value = D; };
template <class F> void dispatch_dim(int dim, F&& f) {
  if (dim == 2) return f(Dim<2>{});
  if (dim == 3) return f(Dim<3>{});
  throw std::invalid_argument("verireward: spatial dimension must be 2 or 3, got " + std::to_string(dim));
}

// Calls f(Dim<D>{}, T{}) for the spatial dimension and float type of an op's arguments.
template <class F> void dispatch_dim_float(int dim, DType dtype, F&& f) {
  dispatch_dim(dim, [&](auto d) { dispatch_float(dtype, [&](auto t) { f(d, t); }); });
}

}  // namespace vr
