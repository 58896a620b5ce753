// fastload::resized_crop_color / resized_crop_color_into: the argument checks shared by every backend's kernels.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "math/crop_color_math.h"

namespace fastload {

// A checked call: the image and colour descriptors (host memory), the kernel description (params.images and
// params.color.images still unset) and the normalized output.
struct ResizedCropColorCall {
  std::vector<ImageDesc> images;
  std::vector<ColorImage> colors;
  CropColorParams params;
  at::Tensor out;
};

// resized_crop_batch's checks of the images and tap tables (for a uint8 crop), then adjust_color_normalize's of the
// steps, factors, rgb and normalization. The steps may not include sharpness (it reads neighbours across tiles),
// autocontrast or equalize (per-plane histograms): ColorJitter's four, grayscale, solarize, posterize, invert and
// solarize_add. The output, (N, C, h, w) `dtype`, is new (or, inside an Into scope, the caller's out).
ResizedCropColorCall describe_resized_crop_color(at::TensorList images, at::IntArrayRef flip_masks,
                                                 const at::Tensor& y_starts, const at::Tensor& y_weights,
                                                 const at::Tensor& x_starts, const at::Tensor& x_weights,
                                                 const at::Tensor& steps, const at::Tensor& factors,
                                                 at::IntArrayRef rgb, at::ArrayRef<double> mean,
                                                 at::ArrayRef<double> inv_std, at::IntArrayRef channel_map,
                                                 at::ScalarType dtype, bool channels_last);

using ResizedCropColorRun = void (*)(ResizedCropColorCall& call, const at::Tensor& y_starts,
                                     const at::Tensor& y_weights, const at::Tensor& x_starts,
                                     const at::Tensor& x_weights);

// The op (the _into twin is Into<kResizedCropColorInto, &resized_crop_color_op<Run>>).
template <ResizedCropColorRun Run>
at::Tensor resized_crop_color_op(at::TensorList images, at::IntArrayRef flip_masks, const at::Tensor& y_starts,
                                 const at::Tensor& y_weights, const at::Tensor& x_starts, const at::Tensor& x_weights,
                                 const at::Tensor& steps, const at::Tensor& factors, at::IntArrayRef rgb,
                                 at::ArrayRef<double> mean, at::ArrayRef<double> inv_std, at::IntArrayRef channel_map,
                                 at::ScalarType dtype, bool channels_last) {
  ResizedCropColorCall call =
      describe_resized_crop_color(images, flip_masks, y_starts, y_weights, x_starts, x_weights, steps, factors, rgb,
                                  mean, inv_std, channel_map, dtype, channels_last);
  Run(call, y_starts, y_weights, x_starts, x_weights);
  return call.out;
}

}  // namespace fastload
