// fastload::augment: the argument checks shared by its kernels.
#include "ops/augment.h"

#include "memory/output.h"
#include "ops/adjust_color.h"
#include "ops/image_inputs.h"
#include "ops/warp_affine.h"

namespace fastload {

AugmentCall describe_augment(const at::Tensor& images, const at::Tensor& kinds, const at::Tensor& steps,
                             const at::Tensor& factors, const at::Tensor& matrices, at::ArrayRef<double> fill,
                             c10::string_view interpolation, at::IntArrayRef rgb) {
  const char* op = "fastload::augment";
  check_image_batch(op, images);
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  TORCH_CHECK(kinds.is_cpu() && kinds.scalar_type() == at::kLong && kinds.dim() == 2 && kinds.size(0) == n, op,
              ": kinds must be an (N, S) int64 CPU tensor, got ", kinds.scalar_type(), " ", kinds.sizes(), " on ",
              kinds.device());
  const int64_t stages = kinds.size(1), rows = n * stages;
  AdjustColorCall color = describe_color_steps(op, rows, c, h, w, steps, factors, rgb);
  WarpAffineCall warp = describe_warp_images(op, rows, c, h, w, matrices, fill, interpolation);
  AugmentCall call;
  call.base_x = warp.base_x, call.base_y = warp.base_y;
  const at::Tensor k = kinds.contiguous();
  const int64_t* kind = k.data_ptr<int64_t>();
  const size_t total = static_cast<size_t>(rows);
  call.kinds.resize(total), call.turns.resize(total), call.colors.resize(total), call.warps.resize(total);
  call.stage_uses.assign(static_cast<size_t>(stages), 0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t s = 0; s < stages; ++s) {
      const int64_t v = kind[i * stages + s];
      TORCH_CHECK(v >= 0 && v <= 5, op, ": kinds[", i, ", ", s, "] = ", v,
                  " is not a stage (0 none, 1 colour, 2 warp, 3-5: 1-3 quarter turns)");
      const int32_t type = static_cast<int32_t>(v < kAugmentTurns ? v : kAugmentTurns);
      const int32_t turns = static_cast<int32_t>(v < kAugmentTurns ? 0 : v - 2);
      TORCH_CHECK(turns % 2 == 0 || h == w, op, ": kinds[", i, ", ", s, "]: ", turns, " quarter turn(s) of a ", h, "x",
                  w, " image (odd turns need a square image)");
      const size_t at = static_cast<size_t>(s * n + i);  // stage-major
      ColorImage d = color.images[static_cast<size_t>(i * stages + s)];
      WarpImage m = warp.images[static_cast<size_t>(i * stages + s)];
      // Not a colour stage: no steps; count -1 (the colour launches leave the image to its own launch) unless the
      // stage leaves the image as it is (count 0: the colour launch copies it).
      if (type != kAugmentColor) d = ColorImage{}, d.count = type == kAugmentIdentity ? 0 : -1, d.stats_at = -1;
      m.skip = type != kAugmentWarp;
      call.kinds[at] = type, call.turns[at] = turns, call.colors[at] = d, call.warps[at] = m;
      uint8_t& uses = call.stage_uses[static_cast<size_t>(s)];
      if (type == kAugmentColor) uses |= kUsesColor;
      if (type == kAugmentColor && d.stats_at >= 0) uses |= kUsesStats;
      if (type == kAugmentColor && first_pointwise_step(d) == 1) uses |= kUsesSharpness;
      if (type == kAugmentWarp) uses |= kUsesWarp;
      if (type == kAugmentTurns) uses |= kUsesTurns;
      if (type == kAugmentIdentity) uses |= kUsesIdentity;
    }
  }
  AugmentParams& p = call.params;
  p = AugmentParams{};
  p.color = color.params;
  p.warp = warp.params;
  p.color.n = p.warp.n = n;  // a stage's launches cover the batch
  p.in = images.data_ptr<uint8_t>();
  p.n = n, p.c = c, p.h = h, p.w = w, p.stages = stages;
  for (int64_t d = 0; d < 4; ++d) p.in_stride[d] = images.stride(d);
  call.out = new_output({n, c, h, w}, images.options());  // the CPU output cache: no page faults per call
  p.out = call.out.data_ptr<uint8_t>();
  for (int64_t d = 0; d < 4; ++d) p.out_stride[d] = call.out.stride(d);
  return call;
}

}  // namespace fastload
