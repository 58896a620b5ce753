// The kernels of csrc/cuda/resized_crop_color.cu, compiled by the host compiler for the CUDA emulation (namespace
// emulation).
#define FL_EMULATION 1
#include "cuda/resized_crop_color.cu"
