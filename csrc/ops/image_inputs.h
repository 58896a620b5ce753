// Argument checks shared by every op that reads uint8 images: flipped views, image lists, packed batches. Every
// message names the op that was called (`op`, e.g. "fastload::pad_batch").
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "math/images.h"

namespace fastload {

// The one flip encoding of every op: bit d of `flip_mask` set = dim d of the tensor is read backwards. Returns the
// address of the first element read and fills strides[0..dim) with the strides to read with (negated for flipped
// dims); checks the mask against t's dims.
const uint8_t* flipped_origin(const char* op, const at::Tensor& t, int64_t flip_mask, int64_t* strides);

// Checks an (N, C, H, W) uint8 batch with C = 1 or 3 and non-negative strides (adjust_color, warp_affine, augment).
void check_image_batch(const char* op, const at::Tensor& images);

// Descriptors of a list of HWC uint8 tensors on one device with equal channel counts, 1 or 3 (returned in
// `channels`), image i read with flip_masks[i].
std::vector<ImageDesc> describe_images(const char* op, at::TensorList images, at::IntArrayRef flip_masks,
                                       int64_t& channels);

// Descriptors of a packed batch: contiguous HWC images at `offsets` (bytes) in the 1-D uint8 `data`, with `sizes`
// (N, 2) (h, w); offsets and sizes are int64 CPU tensors, checked against data's length.
std::vector<ImageDesc> describe_packed(const char* op, const at::Tensor& data, const at::Tensor& offsets,
                                       const at::Tensor& sizes, int64_t channels);

}  // namespace fastload
