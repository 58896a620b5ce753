// The kernels of csrc/cuda/augment.cu, compiled by the host compiler for the CUDA emulation (namespace emulation).
#define FL_EMULATION 1
#include "cuda/augment.cu"
