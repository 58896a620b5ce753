// Argument checks of fastload::resized_crop_batch, shared by its registrations.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "math/crop_math.h"

namespace fastload {

// A checked call: host descriptors, the kernel description (params.images still unset) and the output (none, and
// params.out null, when described without it: resized_crop_color keeps the uint8 crop in scratch).
struct ResizedCropCall {
  std::vector<ImageDesc> images;
  ResizedCropParams params;
  at::Tensor out;
};

ResizedCropCall describe_resized_crop_batch(at::TensorList images, at::IntArrayRef flip_masks,
                                            const at::Tensor& y_starts, const at::Tensor& y_weights,
                                            const at::Tensor& x_starts, const at::Tensor& x_weights,
                                            std::optional<at::ArrayRef<double>> mean,
                                            std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                            std::optional<at::ScalarType> dtype, bool channels_last,
                                            bool with_output = true);

}  // namespace fastload
