// fastload::normalize: the argument checks shared by the CPU and CUDA kernels.
#include "ops/normalize.h"

#include <utility>
#include <vector>

#include "ops/common.h"
#include "ops/image_inputs.h"
#include "memory/output.h"

namespace fastload {

NormalizeParams describe_normalize(const char* op, const at::Tensor& img, at::ArrayRef<double> mean,
                                   at::ArrayRef<double> inv_std, at::IntArrayRef channel_map, int64_t flip_mask) {
  TORCH_CHECK(img.scalar_type() == at::kByte, op, ": img must be uint8, got ", img.scalar_type());
  TORCH_CHECK(img.dim() == 3 || img.dim() == 4, op, ": img must be (H, W, C) or (N, H, W, C), got ", img.dim(),
              " dims");
  const bool batched = img.dim() == 4;
  const int64_t c = img.size(-1);
  TORCH_CHECK(c == 1 || c == 3, op, ": img must have 1 or 3 channels, got ", c);
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(inv_std.size()) == c &&
                  static_cast<int64_t>(channel_map.size()) == c,
              op, ": mean, inv_std and channel_map need one value per channel (", c, "), got ", mean.size(), ", ",
              inv_std.size(), ", ", channel_map.size());

  NormalizeParams p{};
  p.n = batched ? img.size(0) : 1;
  p.h = img.size(-3);
  p.w = img.size(-2);
  p.c = c;
  read_channel_map(op, channel_map, c, p.channel_map);
  for (int64_t k = 0; k < c; ++k) {
    p.mean[k] = static_cast<float>(mean[k]);
    p.inv_std[k] = static_cast<float>(inv_std[k]);
  }

  // A reversed channel dim is folded into channel_map rather than read with a negative stride, so the kernels'
  // contiguous-pixel fast path still applies to `img[..., ::-1]`.
  const int64_t channel_bit = int64_t{1} << (img.dim() - 1);
  int64_t strides[4];
  p.in = flipped_origin(op, img, flip_mask & ~channel_bit, strides);
  if (flip_mask & channel_bit) {
    for (int64_t k = 0; k < c; ++k) p.channel_map[k] = static_cast<int>(c - 1 - p.channel_map[k]);
  }
  const int64_t* hwc = strides + (batched ? 1 : 0);
  p.in_stride_n = batched ? strides[0] : 0;
  p.in_stride_h = hwc[0];
  p.in_stride_w = hwc[1];
  p.in_stride_c = hwc[2];
  return p;
}

namespace {

// Strides of the result: NCHW contiguous, or NHWC memory (channels_last); the 3-D forms drop the N stride.
std::vector<int64_t> output_strides(const NormalizeParams& p, bool batched, bool channels_last) {
  std::vector<int64_t> strides = channels_last ? std::vector<int64_t>{p.h * p.w * p.c, 1, p.w * p.c, p.c}
                                               : std::vector<int64_t>{p.c * p.h * p.w, p.h * p.w, p.w, 1};
  if (!batched) strides.erase(strides.begin());
  return strides;
}

std::vector<int64_t> output_sizes(const NormalizeParams& p, bool batched) {
  return batched ? std::vector<int64_t>{p.n, p.c, p.h, p.w} : std::vector<int64_t>{p.c, p.h, p.w};
}

// Same strides where they matter: a dim of size 1 may carry any stride.
bool strides_match(const at::Tensor& t, const std::vector<int64_t>& strides) {
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) > 1 && t.stride(d) != strides[d]) return false;
  }
  return true;
}

}  // namespace

at::Tensor allocate_normalize_output(const char* op, const at::Tensor& img, NormalizeParams& p, at::ScalarType dtype,
                                     bool channels_last) {
  const bool batched = img.dim() == 4;
  at::Tensor out =
      new_output(output_sizes(p, batched), output_strides(p, batched, channels_last), img.options().dtype(dtype));
  p.dtype = to_float_dtype(op, dtype);
  p.channels_last = channels_last;
  p.out = out.data_ptr();
  return out;
}

void bind_normalize_output(const char* op, const at::Tensor& img, NormalizeParams& p, const at::Tensor& out) {
  const bool batched = img.dim() == 4;
  TORCH_CHECK(out.device() == img.device(), op, ": out is on ", out.device(), ", img on ", img.device());
  TORCH_CHECK(out.sizes() == at::IntArrayRef(output_sizes(p, batched)), op, ": out must have shape ",
              at::IntArrayRef(output_sizes(p, batched)), ", got ", out.sizes());
  p.dtype = to_float_dtype(op, out.scalar_type());
  if (out.numel() == 0 || strides_match(out, output_strides(p, batched, false))) {
    p.channels_last = false;
  } else {
    TORCH_CHECK(strides_match(out, output_strides(p, batched, true)), op,
                ": out must be contiguous or channels_last, got strides ", out.strides());
    p.channels_last = true;
  }
  check_no_overlap(op, out, img, "img");
  p.out = out.data_ptr();
}

}  // namespace fastload
