// fastload::adjust_color / adjust_color_into: the argument checks shared by every backend's kernels.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "math/color_math.h"
#include "memory/output.h"

namespace fastload {

// A checked call: the per-image descriptors (host memory), the kernel description (params.images still unset) and
// the output (bound by bind_adjust_color_output).
struct AdjustColorCall {
  std::vector<ColorImage> images;
  AdjustColorParams params;
  at::Tensor out;
};

// Checks images (uint8 (N, C, H, W), C = 1 or 3, non-negative strides), steps ((N, S) int64 CPU, S <= 12, codes
// 0..11 (color_math.h's ColorStep) or -1 for none, each at most once a row, sharpness only first, at most one of
// contrast / autocontrast / equalize), factors ((N, 12) float64 CPU, indexed by step code: brightness, contrast,
// saturation, hue, unused, solarize threshold, sharpness, posterize bits, unused x 3, solarize_add amount; each
// checked where its step is used) and rgb (the R, G, B channel indices).
AdjustColorCall describe_adjust_color(const char* op, const at::Tensor& images, const at::Tensor& steps,
                                      const at::Tensor& factors, at::IntArrayRef rgb);

// describe_adjust_color's checks of steps, factors and rgb for a batch of n images of c channels and h x w pixels,
// without an input yet (params.in and in_stride unset): resized_crop_color's colour steps, on its uint8 crops.
AdjustColorCall describe_color_steps(const char* op, int64_t n, int64_t c, int64_t h, int64_t w,
                                     const at::Tensor& steps, const at::Tensor& factors, at::IntArrayRef rgb);

// Points the call at `out`: images' shape and device, uint8, and either images itself (in place: the same storage,
// offset and strides; not with a sharpness step) or a tensor that does not overlap it.
void bind_adjust_color_output(const char* op, const at::Tensor& images, AdjustColorCall& call, const at::Tensor& out);

// Points the call at a new (N, C, H, W) float batch of `dtype` with `options`' device (contiguous or channels_last;
// inside an Into scope, the caller's out) that the adjusted bytes are normalized into: output channel k is input
// channel channel_map[k] minus mean[k], times inv_std[k].
void bind_adjust_color_normalized(const char* op, const at::TensorOptions& options, AdjustColorCall& call,
                                  at::ArrayRef<double> mean, at::ArrayRef<double> inv_std, at::IntArrayRef channel_map,
                                  at::ScalarType dtype, bool channels_last);

// CUDA (and its emulation): adjust_color_normalize with a sharpness step sharpens into a uint8 batch first, which
// the last launch reads: a new contiguous (N, C, H, W) one on images' device, pointed to by params.out. Undefined
// (nothing allocated) when the call needs none.
at::Tensor bind_sharpness_scratch(const at::Tensor& images, AdjustColorCall& call);

using AdjustColorRun = void (*)(const at::Tensor& images, AdjustColorCall& call);

template <AdjustColorRun Run>
at::Tensor adjust_color_op(const at::Tensor& images, const at::Tensor& steps, const at::Tensor& factors,
                           at::IntArrayRef rgb) {
  const char* op = "fastload::adjust_color";
  AdjustColorCall call = describe_adjust_color(op, images, steps, factors, rgb);
  bind_adjust_color_output(op, images, call, new_image_batch_output(images));
  Run(images, call);
  return call.out;
}

template <AdjustColorRun Run>
void adjust_color_into_op(const at::Tensor& images, const at::Tensor& steps, const at::Tensor& factors,
                          at::IntArrayRef rgb, const at::Tensor& out) {
  const char* op = "fastload::adjust_color_into";
  AdjustColorCall call = describe_adjust_color(op, images, steps, factors, rgb);
  bind_adjust_color_output(op, images, call, out);
  Run(images, call);
}

// adjust_color_normalize (the _into twin is Into<kAdjustColorNormalizeInto, &adjust_color_normalize_op<Run>>).
template <AdjustColorRun Run>
at::Tensor adjust_color_normalize_op(const at::Tensor& images, const at::Tensor& steps, const at::Tensor& factors,
                                     at::IntArrayRef rgb, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                     at::IntArrayRef channel_map, at::ScalarType dtype, bool channels_last) {
  const char* op = "fastload::adjust_color_normalize";
  AdjustColorCall call = describe_adjust_color(op, images, steps, factors, rgb);
  bind_adjust_color_normalized(op, images.options(), call, mean, inv_std, channel_map, dtype, channels_last);
  Run(images, call);
  return call.out;
}

}  // namespace fastload
