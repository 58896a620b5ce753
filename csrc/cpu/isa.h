// Runtime ISA dispatch for the CPU kernels without -march=native: FL_CPU_CLONES compiles a function for AVX-512
// (x86-64-v4), AVX2 (x86-64-v3) and baseline x86-64, and the loader picks the best one for the machine
// (GCC target_clones, an ifunc). Elsewhere it is a no-op and the portable build is used. The hand-written
// intrinsics loops run where cpu_has_*() says so, capped at run time by fastload._backend.cpu_simd("avx2" or "none"),
// so the tests run every loop the machine has beside the portable ones.
#pragma once

#include <atomic>

namespace fastload {
enum CpuSimd : int { kSimdNone = 0, kSimdAvx2 = 1, kSimdAvx512 = 2 };
// The widest hand-written loops allowed (the machine's own support is checked separately).
inline std::atomic<int>& cpu_simd_cap() {
  static std::atomic<int> cap{kSimdAvx512};
  return cap;
}
}  // namespace fastload

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FL_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FL_HAVE_AVX512_ROWS 1
#define FL_HAVE_AVX2_ROWS 1
#define FL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define FL_AVX512_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))
#define FL_AVX2 __attribute__((target("avx2")))
#define FL_AVX2_FMA __attribute__((target("avx2,fma")))
#include <immintrin.h>

namespace fastload {
// Whether the hand-written AVX-512 rows may run here.
inline bool cpu_has_avx512bw_vl() {
  static const bool has =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return has && cpu_simd_cap().load(std::memory_order_relaxed) >= kSimdAvx512;
}
// Whether the hand-written AVX-512 loops with byte permutes across a register pair (VBMI) may run here.
inline bool cpu_has_avx512_vbmi() {
  static const bool has = __builtin_cpu_supports("avx512vbmi");
  return has && cpu_has_avx512bw_vl();
}
// Whether the hand-written AVX2 loops (byte shuffles, gathers) may run here.
inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has && cpu_simd_cap().load(std::memory_order_relaxed) >= kSimdAvx2;
}
// Whether the hand-written AVX2 loops with fused multiply-adds may run here.
inline bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("fma");
  return has && cpu_has_avx2();
}
}  // namespace fastload
#else
#define FL_CPU_CLONES
#define FL_HAVE_AVX512_ROWS 0
#define FL_HAVE_AVX2_ROWS 0
#endif

// A per-row loop of float math: each ISA clone, and (GCC) with -fno-trapping-math, without which GCC keeps a select
// followed by a float -> int conversion as a branch, and nearbyintf / floorf as library calls, leaving the loop
// scalar (5x slower). Exception flags are all it gives up: no value changes (fp contraction stays off, as in the
// whole build; a kernel that fuses says so with fmaf).
#if defined(__clang__)
#define FL_CPU_LOOP FL_CPU_CLONES
#else
#define FL_CPU_LOOP FL_CPU_CLONES __attribute__((optimize("no-trapping-math", "fp-contract=off")))
#endif
