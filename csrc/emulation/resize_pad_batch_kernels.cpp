// The kernels of csrc/cuda/resize_pad_batch.cu, compiled by the host compiler for the CUDA emulation (namespace
// emulation).
#define FL_EMULATION 1
#include "cuda/resize_pad_batch.cu"
