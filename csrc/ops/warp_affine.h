// fastload::warp_affine / warp_affine_into: the argument checks shared by every backend's kernels.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "math/warp_math.h"

namespace fastload {

// A checked call: the per-image grid coefficients (host memory), torch's linspace coordinates of the columns and
// rows (float32 CPU tensors), the kernel description (its pointers to them still unset) and the output.
struct WarpAffineCall {
  std::vector<WarpImage> images;
  at::Tensor base_x, base_y;
  WarpAffineParams params;
  at::Tensor out;
};

// Checks images (uint8 (N, C, H, W), C = 1 or 3, non-negative strides), matrices ((N, 6) float64 CPU, finite: each
// image's inverse affine matrix in pixels from the image centre, torchvision's `_get_inverse_affine_matrix`), fill
// ([] for none, else C values in [0, 255]) and interpolation ("nearest" or "bilinear"), then binds `out` (images'
// shape and device, uint8, sharing no memory with images; undefined: a new tensor in images' layout).
WarpAffineCall describe_warp_affine(const char* op, const at::Tensor& images, const at::Tensor& matrices,
                                    at::ArrayRef<double> fill, c10::string_view interpolation, const at::Tensor& out);

// describe_warp_affine's checks of matrices (n rows), fill and interpolation for images of c channels and h x w
// pixels, without an input or output yet (params.in, out and their strides unset): augment's warp stages.
WarpAffineCall describe_warp_images(const char* op, int64_t n, int64_t c, int64_t h, int64_t w,
                                    const at::Tensor& matrices, at::ArrayRef<double> fill,
                                    c10::string_view interpolation);

using WarpAffineRun = void (*)(const at::Tensor& images, WarpAffineCall& call);

template <WarpAffineRun Run>
at::Tensor warp_affine_op(const at::Tensor& images, const at::Tensor& matrices, at::ArrayRef<double> fill,
                          c10::string_view interpolation) {
  WarpAffineCall call = describe_warp_affine("fastload::warp_affine", images, matrices, fill, interpolation, {});
  Run(images, call);
  return call.out;
}

template <WarpAffineRun Run>
void warp_affine_into_op(const at::Tensor& images, const at::Tensor& matrices, at::ArrayRef<double> fill,
                         c10::string_view interpolation, const at::Tensor& out) {
  WarpAffineCall call = describe_warp_affine("fastload::warp_affine_into", images, matrices, fill, interpolation, out);
  Run(images, call);
}

}  // namespace fastload
