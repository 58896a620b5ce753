// fastload::_cpu_simd: the run-time cap on the hand-written SIMD loops (isa.h), for the tests.
#include <torch/library.h>

#include "cpu/isa.h"

namespace fastload {
namespace {

int64_t set_cpu_simd(int64_t cap) {
  TORCH_CHECK(cap >= kSimdNone && cap <= kSimdAvx512, "fastload::_cpu_simd: cap must be 0, 1 or 2, got ", cap);
  return cpu_simd_cap().exchange(static_cast<int>(cap));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) { m.def("_cpu_simd(int cap) -> int", &set_cpu_simd); }

}  // namespace fastload
