// Which CPU code path runs: the AVX2 clone, the default-target (SSE2) lanes, or the scalar
// per-element loop (the very functor loop the CUDA kernels run). "auto" picks AVX2 when the CPU
// has it. Tests switch paths to prove they give bitwise identical results.
#pragma once
#include <string>

namespace vr {

enum class CpuPath : int { Scalar = 0, Lanes = 1, Avx2 = 2 };

CpuPath cpu_path();                         // the path in force now
void set_cpu_path(const std::string& name);  // "auto" | "avx2" | "sse2" | "scalar"; invalid_argument otherwise
std::string cpu_path_name();

}  // namespace vr
