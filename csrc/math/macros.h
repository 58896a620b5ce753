// Portability macros shared by the host and device code. No torch includes here: the .cu files that include this
// header compile without torch, which keeps nvcc builds fast.
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define FL_HOST_DEVICE __host__ __device__
#define FL_INLINE __forceinline__
#else
#define FL_HOST_DEVICE
#define FL_INLINE inline __attribute__((always_inline))
#endif
