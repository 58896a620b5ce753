// fastload::denormalize: the argument checks shared by the CPU and CUDA kernels.
#include "ops/denormalize.h"

#include "ops/common.h"
#include "memory/output.h"

namespace fastload {

DenormalizeParams describe_denormalize(const at::Tensor& x, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                                       at::IntArrayRef channel_map, at::Tensor& out) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16,
              "fastload::denormalize: x must be float32, float16 or bfloat16, got ", x.scalar_type());
  TORCH_CHECK(x.dim() == 3 || x.dim() == 4, "fastload::denormalize: x must be (C, H, W) or (N, C, H, W), got ", x.dim(),
              " dims");
  const bool batched = x.dim() == 4;
  const int64_t c = x.size(-3);
  TORCH_CHECK(c == 1 || c == 3, "fastload::denormalize: x must have 1 or 3 channels, got ", c);
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std.size()) == c &&
                  static_cast<int64_t>(channel_map.size()) == c,
              "fastload::denormalize: mean, std and channel_map need one value per channel (", c, "), got ",
              mean.size(), ", ", std.size(), ", ", channel_map.size());
  for (int64_t d = 0; d < x.dim(); ++d) {
    TORCH_CHECK(x.stride(d) >= 0, "fastload::denormalize: negative strides are not supported");
  }

  DenormalizeParams p{};
  p.n = batched ? x.size(0) : 1;
  p.c = c;
  p.h = x.size(-2);
  p.w = x.size(-1);
  p.in_stride_n = batched ? x.stride(0) : 0;
  p.in_stride_c = x.stride(-3);
  p.in_stride_h = x.stride(-2);
  p.in_stride_w = x.stride(-1);
  p.dtype = to_float_dtype("fastload::denormalize", x.scalar_type());
  read_channel_map("fastload::denormalize", channel_map, c, p.channel_map);
  for (int64_t k = 0; k < c; ++k) {
    p.mean[k] = static_cast<float>(mean[k]);
    p.std[k] = static_cast<float>(std[k]);
  }
  p.in = x.data_ptr();
  out = batched ? new_output({p.n, p.h, p.w, c}, x.options().dtype(at::kByte))
                : new_output({p.h, p.w, c}, x.options().dtype(at::kByte));
  p.out = out.data_ptr<uint8_t>();
  return p;
}

}  // namespace fastload
