// The CPU resized_crop_batch's per-image work (cpu/resized_crop_batch.cpp), for the ops built on it.
#pragma once
#include <stdint.h>

#include "math/crop_math.h"

namespace fastload {

// Output rows y0 .. y1 - 1 of image n of the crop `p` describes: into p.out as p says (normalized or uint8), or,
// with `bytes`, as uint8 planes (channel k's row y at bytes + (k * out_h + y) * out_w: resized_crop_color's
// one-image scratch, which stays in the cache).
void crop_image_rows(const ResizedCropParams& p, int64_t n, int64_t y0, int64_t y1, uint8_t* bytes = nullptr);

}  // namespace fastload
