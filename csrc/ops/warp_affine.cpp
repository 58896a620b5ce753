// fastload::warp_affine: the argument checks shared by its kernels, and the grid coefficients in torchvision's fp32
// operations (theta = the matrix in float32, over (w / 2, h / 2)).
#include "ops/warp_affine.h"

#include <ATen/ops/linspace.h>

#include <cmath>

#include "memory/output.h"
#include "ops/image_inputs.h"

namespace fastload {

WarpAffineCall describe_warp_images(const char* op, int64_t n, int64_t c, int64_t h, int64_t w,
                                    const at::Tensor& matrices, at::ArrayRef<double> fill,
                                    c10::string_view interpolation) {
  TORCH_CHECK(matrices.is_cpu() && matrices.scalar_type() == at::kDouble && matrices.dim() == 2 &&
                  matrices.size(0) == n && matrices.size(1) == 6,
              op, ": matrices must be an (N, 6) float64 CPU tensor, got ", matrices.scalar_type(), " ",
              matrices.sizes(), " on ", matrices.device());
  TORCH_CHECK(fill.empty() || static_cast<int64_t>(fill.size()) == c, op, ": fill must be [] or ", c, " values, got ",
              fill.size());
  for (double v : fill) TORCH_CHECK(v >= 0.0 && v <= 255.0, op, ": fill values must lie in [0, 255], got ", v);
  TORCH_CHECK(interpolation == "nearest" || interpolation == "bilinear", op,
              ": interpolation must be 'nearest' or 'bilinear', got '", std::string(interpolation), "'");
  // The CUDA kernel splits its row index with 32-bit divisions.
  TORCH_CHECK(n * h < (int64_t{1} << 31), op, ": images has too many rows (", n, " x ", h, ")");
  WarpAffineCall call;
  WarpAffineParams& p = call.params;
  p = WarpAffineParams{};
  const at::Tensor m = matrices.contiguous();
  const double* v = m.data_ptr<double>();
  // torchvision: theta = torch.tensor(matrix, dtype=float32), transposed and divided by [0.5 w, 0.5 h] (float32).
  const float half_w = static_cast<float>(0.5 * static_cast<double>(w));
  const float half_h = static_cast<float>(0.5 * static_cast<double>(h));
  call.images.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i, v += 6) {
    for (int k = 0; k < 6; ++k) TORCH_CHECK(std::isfinite(v[k]), op, ": matrices[", i, "] is not finite");
    auto f = [&](int k, float half) { return static_cast<float>(v[k]) / half; };
    call.images.push_back(
        WarpImage{f(0, half_w), f(1, half_w), f(2, half_w), f(3, half_h), f(4, half_h), f(5, half_h), 0});
  }
  const auto floats = at::TensorOptions().dtype(at::kFloat);
  call.base_x = at::linspace((1.0 - static_cast<double>(w)) * 0.5, (static_cast<double>(w) - 1.0) * 0.5, w, floats);
  call.base_y = at::linspace((1.0 - static_cast<double>(h)) * 0.5, (static_cast<double>(h) - 1.0) * 0.5, h, floats);
  p.n = n, p.c = c, p.h = h, p.w = w;
  p.has_fill = !fill.empty();
  for (size_t k = 0; k < fill.size(); ++k) p.fill[k] = static_cast<float>(fill[k]);
  p.bilinear = interpolation == "bilinear";
  return call;
}

WarpAffineCall describe_warp_affine(const char* op, const at::Tensor& images, const at::Tensor& matrices,
                                    at::ArrayRef<double> fill, c10::string_view interpolation, const at::Tensor& out) {
  check_image_batch(op, images);
  WarpAffineCall call = describe_warp_images(op, images.size(0), images.size(1), images.size(2), images.size(3),
                                             matrices, fill, interpolation);
  WarpAffineParams& p = call.params;
  p.in = images.data_ptr<uint8_t>();
  for (int64_t d = 0; d < 4; ++d) p.in_stride[d] = images.stride(d);
  if (out.defined()) {
    TORCH_CHECK(out.sizes() == images.sizes() && out.scalar_type() == at::kByte && out.device() == images.device(), op,
                ": out must be a uint8 tensor of shape ", images.sizes(), " on ", images.device(), ", got ",
                out.scalar_type(), " ", out.sizes(), " on ", out.device());
    for (int64_t d = 0; d < 4; ++d) TORCH_CHECK(out.stride(d) >= 0, op, ": out has a negative stride");
    check_no_overlap(op, out, images, "images");  // every output pixel may read any input pixel
    call.out = out;
  } else {
    call.out = new_image_batch_output(images);
  }
  p.out = static_cast<uint8_t*>(call.out.data_ptr());
  for (int64_t d = 0; d < 4; ++d) p.out_stride[d] = call.out.stride(d);
  return call;
}

}  // namespace fastload
