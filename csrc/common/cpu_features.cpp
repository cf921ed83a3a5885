#include "common/cpu_features.h"

#include <atomic>
#include <stdexcept>

namespace vr {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
#else
  return false;
#endif
}

CpuPath auto_path() { return cpu_has_avx2() ? CpuPath::Avx2 : CpuPath::Lanes; }
std::atomic<int> g_path{static_cast<int>(auto_path())};

}  // namespace

CpuPath cpu_path() { return static_cast<CpuPath>(g_path.load(std::memory_order_relaxed)); }

void set_cpu_path(const std::string& name) {
  CpuPath p;
  if (name == "auto") p = auto_path();
  else if (name == "scalar") p = CpuPath::Scalar;
  else if (name == "sse2") p = CpuPath::Lanes;
  else if (name == "avx2") {
    if (!cpu_has_avx2()) throw std::invalid_argument("this CPU has no AVX2");
    p = CpuPath::Avx2;
  } else {
    throw std::invalid_argument("cpu path must be auto, avx2, sse2 or scalar, got '" + name + "'");
  }
  g_path.store(static_cast<int>(p), std::memory_order_relaxed);
}

std::string cpu_path_name() {
  switch (cpu_path()) {
    case CpuPath::Scalar: return "scalar";
    case CpuPath::Lanes: return "sse2";
    case CpuPath::Avx2: return "avx2";
  }
  return "?";
}

}  // namespace vr
