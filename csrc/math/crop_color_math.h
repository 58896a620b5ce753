// resized_crop_color's kernel description: resized_crop_batch's crop to uint8 (the ResizedCropParams base: normalize
// false, out unused, channels in the input's order) whose bytes go through adjust_color_normalize's steps into the
// normalized batch (`color`: its in is the crop as an (N, C, h, w) view of interleaved pixels, in_stride[0] its
// image stride; norm_out the batch), every crop in the same pass as its colour steps.
#pragma once
#include "math/color_math.h"
#include "math/crop_math.h"

namespace fastload {

struct CropColorParams : ResizedCropParams {
  AdjustColorParams color;
};

}  // namespace fastload
