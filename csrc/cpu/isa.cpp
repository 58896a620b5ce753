// fastload::_cpu_simd: the run-time switch of the hand-written SIMD loops (isa.h), for the tests.
#include <torch/library.h>

#include "cpu/isa.h"

namespace fastload {
namespace {

bool set_cpu_simd(bool enabled) { return cpu_simd_allowed().exchange(enabled); }

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) { m.def("_cpu_simd(bool enabled) -> bool", &set_cpu_simd); }

}  // namespace fastload
