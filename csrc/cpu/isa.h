// Runtime ISA dispatch for the CPU kernels without -march=native: FL_CPU_CLONES compiles a function for AVX-512
// (x86-64-v4), AVX2 (x86-64-v3) and baseline x86-64, and the loader picks the best one for the machine
// (GCC target_clones, an ifunc). Elsewhere it is a no-op and the portable build is used.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FL_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FL_HAVE_AVX512_ROWS 1
#define FL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#include <immintrin.h>

namespace fastload {
// Whether the hand-written AVX-512 rows may run here (checked once).
inline bool cpu_has_avx512bw_vl() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
}
}  // namespace fastload
#else
#define FL_CPU_CLONES
#define FL_HAVE_AVX512_ROWS 0
#endif
