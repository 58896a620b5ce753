// resized_crop_color's kernel description: resized_crop_batch's crop to uint8 (the ResizedCropParams base: normalize
// false, out unused, channels in the input's order; dtype and channels_last the output's) whose bytes go through
// adjust_color_normalize's steps into the normalized batch (`color`: norm_out the batch; in, the crop as the colour
// pass reads it, is the CPU kernel's one-crop scratch), every crop in the same pass as its colour steps.
#pragma once
#include "math/color_math.h"
#include "math/crop_math.h"

namespace fastload {

struct CropColorParams : ResizedCropParams {
  AdjustColorParams color;
};

}  // namespace fastload
