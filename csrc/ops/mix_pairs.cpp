// fastload::mix_pairs: the argument checks shared by its kernels.
#include "ops/mix_pairs.h"

#include "memory/output.h"
#include "ops/common.h"

namespace fastload {

MixPairsParams describe_mix_pairs(const char* op, const at::Tensor& x, double lam, at::IntArrayRef box) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16, op,
              ": x must be float32, float16 or bfloat16, got ", x.scalar_type());
  TORCH_CHECK(x.dim() == 4, op, ": x must be an (N, C, H, W) batch, got ", x.dim(), " dims");
  for (int64_t d = 0; d < 4; ++d) TORCH_CHECK(x.stride(d) >= 0, op, ": negative strides are not supported");
  TORCH_CHECK(lam >= 0.0 && lam <= 1.0, op, ": lam must lie in [0, 1], got ", lam);
  TORCH_CHECK(box.empty() || box.size() == 4, op, ": box must be [] (Mixup) or [y0, y1, x0, x1] (CutMix), got ",
              box.size(), " values");
  MixPairsParams p{};
  p.in = x.data_ptr();
  p.n = x.size(0);
  p.c = x.size(1);
  p.h = x.size(2);
  p.w = x.size(3);
  for (int64_t d = 0; d < 4; ++d) p.in_stride[d] = x.stride(d);
  p.lam = static_cast<float>(lam);
  p.rest = static_cast<float>(1.0 - lam);
  p.cut = !box.empty();
  if (p.cut) {
    p.y0 = box[0], p.y1 = box[1], p.x0 = box[2], p.x1 = box[3];
    TORCH_CHECK(0 <= p.y0 && p.y0 <= p.y1 && p.y1 <= p.h && 0 <= p.x0 && p.x0 <= p.x1 && p.x1 <= p.w, op, ": box [",
                p.y0, ", ", p.y1, ", ", p.x0, ", ", p.x1, "] must lie inside the ", p.h, "x", p.w, " images");
  }
  p.rows_first = 0, p.rows = p.h, p.cols_first = 0, p.cols = p.w;
  // The CUDA kernel splits its row index with 32-bit divisions.
  TORCH_CHECK((p.n + 1) / 2 * p.c * p.h < (int64_t{1} << 31), op, ": x has too many rows (", p.n, " x ", p.c, " x ",
              p.h, "): (N + 1) / 2 x C x H must stay under 2^31");
  p.dtype = to_float_dtype(op, x.scalar_type());
  return p;
}

at::Tensor new_mix_pairs_output(const at::Tensor& x) {
  const bool channels_last = x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous();
  return new_batch_output(x.size(0), x.size(1), x.size(2), x.size(3), x.scalar_type(), channels_last, x.options());
}

void bind_mix_pairs_output(const char* op, const at::Tensor& x, MixPairsParams& p, const at::Tensor& out) {
  TORCH_CHECK(out.sizes() == x.sizes() && out.scalar_type() == x.scalar_type() && out.device() == x.device(), op,
              ": out must be a ", x.scalar_type(), " tensor of shape ", x.sizes(), " on ", x.device(), ", got ",
              out.scalar_type(), " ", out.sizes(), " on ", out.device());
  for (int64_t d = 0; d < 4; ++d) TORCH_CHECK(out.stride(d) >= 0, op, ": out has a negative stride");
  if (check_in_place_or_apart(op, out, x, "x") && p.cut) {  // in place, CutMix changes only the box
    p.rows_first = p.y0, p.rows = p.y1 - p.y0, p.cols_first = p.x0, p.cols = p.x1 - p.x0;
  }
  p.out = out.data_ptr();
  for (int64_t d = 0; d < 4; ++d) p.out_stride[d] = out.stride(d);
}

}  // namespace fastload
