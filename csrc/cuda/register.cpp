// Every op's CUDA kernel registered for the `fastload` library: the shared entry points and argument checks
// (ops/<op>.h) with a runner that launches the op's kernel (csrc/cuda/<op>.cu, declared in cuda/launches.h) on the
// current stream of the inputs' device. Batch ops upload their image descriptors in one small asynchronous copy
// from pinned memory (cuda/descriptors.h) and assemble the whole batch in one launch.
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "cuda/descriptors.h"
#include "cuda/launches.h"
#include "memory/output.h"
#include "ops/adjust_color.h"
#include "ops/augment.h"
#include "ops/channel_stats.h"
#include "ops/denormalize.h"
#include "ops/mix_pairs.h"
#include "ops/normalize.h"
#include "ops/pad_batch.h"
#include "ops/resize_pad_batch.h"
#include "ops/resized_crop_batch.h"
#include "ops/resized_crop_color.h"
#include "ops/warp_affine.h"

namespace fastload {
namespace {

// fastload::normalize / normalize_into on CUDA: the shared entry points (ops/normalize.h) with a runner that launches
// normalize.cu's kernels on the current stream of img's device.
void run_normalize(const at::Tensor& img, const NormalizeParams& p) {
  const c10::cuda::CUDAGuard guard(img.device());
  cuda::launch_normalize(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// fastload::denormalize on CUDA: argument checks and output allocation, then the launcher in denormalize.cu on the
// current stream of x's device.
at::Tensor denormalize_cuda(const at::Tensor& x, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                            at::IntArrayRef channel_map) {
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out;
  const DenormalizeParams p = describe_denormalize(x, mean, std, channel_map, out);
  cuda::launch_denormalize(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

// fastload::mix_pairs / mix_pairs_into on CUDA: mix_pairs.cu's kernel on the current stream of x's device.
void run_mix_pairs(const at::Tensor& x, const MixPairsParams& p) {
  const c10::cuda::CUDAGuard guard(x.device());
  cuda::launch_mix_pairs(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// fastload::adjust_color / adjust_color_into on CUDA: the per-image steps go to the device in one small asynchronous
// copy; with a statistics step, zeroed sums and counts and room for the tables per image, for the first two of
// adjust_color.cu's launches.
void run_adjust_color(const at::Tensor& images, AdjustColorCall& call) {
  const c10::cuda::CUDAGuard guard(images.device());
  at::Tensor sums, luts;
  if (call.params.stats) {
    sums = at::zeros({call.params.n, 1 + 3 * 256}, images.options().dtype(at::kLong));
    call.params.grey_sums = reinterpret_cast<unsigned long long*>(sums.data_ptr<int64_t>());
    call.params.histograms = call.params.grey_sums + call.params.n;
    luts = at::empty({call.params.n, 3 * 256}, images.options().dtype(at::kByte));
    call.params.luts = luts.data_ptr<uint8_t>();
  }
  const at::Tensor scratch = bind_sharpness_scratch(images, call);  // kept until the launches are enqueued
  launch_with_descriptors("fastload::adjust_color", call, images.device(), cuda::launch_adjust_color);
}

// fastload::augment on CUDA: the stages' kinds and descriptors and torch's linspace coordinates go to the device in
// one small asynchronous copy; the scratch batches the stages alternate between (none for one stage, one for two)
// and, when a stage has a statistics step, zeroed sums and counts per stage and one set of tables; then augment.cu's
// launches, stage after stage.
void run_augment(const at::Tensor& images, AugmentCall& call) {
  const c10::cuda::CUDAGuard guard(images.device());
  AugmentParams& p = call.params;
  if (p.stages == 0) {
    call.out.copy_(images);
    return;
  }
  const at::Tensor scratch = at::empty({std::min<int64_t>(p.stages - 1, 2), p.n, p.c, p.h, p.w}, call.out.options());
  for (int64_t k = 0; k < scratch.size(0); ++k) p.scratch[k] = scratch[k].data_ptr<uint8_t>();
  at::Tensor sums, luts;
  if (augment_has_statistics(call)) {
    sums = at::zeros({p.stages, p.n, 1 + 3 * 256}, images.options().dtype(at::kLong));
    p.sums = reinterpret_cast<unsigned long long*>(sums.data_ptr<int64_t>());
    luts = at::empty({p.n, 3 * 256}, images.options().dtype(at::kByte));
    p.color.luts = luts.data_ptr<uint8_t>();
  }
  p.stage_uses = call.stage_uses.data();  // host memory: the launcher reads it
  launch_with_tables("fastload::augment", p, images.device(), cuda::launch_augment,
                     {{call.kinds.data(), call.kinds.size() * sizeof(int32_t), &p.kinds},
                      {call.turns.data(), call.turns.size() * sizeof(int32_t), &p.turns},
                      {call.colors.data(), call.colors.size() * sizeof(ColorImage), &p.colors},
                      {call.warps.data(), call.warps.size() * sizeof(WarpImage), &p.warps},
                      {call.base_x.data_ptr<float>(), static_cast<size_t>(p.w) * sizeof(float), &p.warp.base_x},
                      {call.base_y.data_ptr<float>(), static_cast<size_t>(p.h) * sizeof(float), &p.warp.base_y}});
}

// fastload::warp_affine / warp_affine_into on CUDA: the per-image grid coefficients and torch's linspace columns and
// rows go to the device in one small asynchronous copy.
void run_warp_affine(const at::Tensor& images, WarpAffineCall& call) {
  const c10::cuda::CUDAGuard guard(images.device());
  WarpAffineParams& p = call.params;
  const std::vector<HostTable> tables{
      {call.base_x.data_ptr<float>(), static_cast<size_t>(p.w) * sizeof(float), &p.base_x},
      {call.base_y.data_ptr<float>(), static_cast<size_t>(p.h) * sizeof(float), &p.base_y}};
  launch_with_descriptors("fastload::warp_affine", call, images.device(), cuda::launch_warp_affine, tables);
}

// fastload::pad_batch / pad_batch_packed on CUDA: the image descriptors go to the device in one small asynchronous
// copy from pinned memory, then one kernel assembles the whole batch on the current stream.
at::Tensor run_pad_batch(PadBatchCall call, const at::Device& device) {
  return launch_with_descriptors("fastload::pad_batch", call, device, cuda::launch_pad_batch);
}

at::Tensor pad_batch_cuda(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                          std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> inv_std,
                          at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                          std::optional<at::ScalarType> dtype, bool channels_last) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(), "fastload::pad_batch (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  return run_pad_batch(
      describe_pad_batch(images, flip_masks, batch_hw, mean, inv_std, channel_map, pad_value, dtype, channels_last),
      images[0].device());
}

at::Tensor pad_batch_packed_cuda(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                 int64_t channels, at::IntArrayRef batch_hw, std::optional<at::ArrayRef<double>> mean,
                                 std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                 at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                 bool channels_last) {
  TORCH_CHECK(data.is_cuda(), "fastload::pad_batch_packed (CUDA kernel): data must be a CUDA tensor");
  const c10::cuda::CUDAGuard guard(data.device());
  return run_pad_batch(describe_pad_batch(data, offsets, sizes, channels, batch_hw, mean, inv_std, channel_map,
                                          pad_value, dtype, channels_last),
                       data.device());
}

// fastload::resize_pad_batch(_packed) on CUDA: descriptors to the device in one small async copy, then one kernel
// for the whole batch on the current stream.
at::Tensor run_resize_pad_batch(ResizePadBatchCall call, const at::Device& device) {
  return launch_with_descriptors("fastload::resize_pad_batch", call, device, cuda::launch_resize_pad_batch);
}

at::Tensor resize_pad_batch_cuda(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef new_sizes,
                                 at::IntArrayRef batch_hw, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                 at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                 c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(),
              "fastload::resize_pad_batch (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  return run_resize_pad_batch(describe_resize_pad_batch(images, flip_masks, new_sizes, batch_hw, mean, inv_std,
                                                        channel_map, pad_value, interpolation, dtype, channels_last),
                              images[0].device());
}

at::Tensor resize_pad_batch_packed_cuda(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                        int64_t channels, at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                        at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                        at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                        c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  TORCH_CHECK(data.is_cuda(), "fastload::resize_pad_batch_packed (CUDA kernel): data must be a CUDA tensor");
  const c10::cuda::CUDAGuard guard(data.device());
  return run_resize_pad_batch(
      describe_resize_pad_batch(data, offsets, sizes, channels, new_sizes, batch_hw, mean, inv_std, channel_map,
                                pad_value, interpolation, dtype, channels_last),
      data.device());
}

// fastload::resized_crop_batch on CUDA: the image descriptors go to the device in one small asynchronous copy (the
// tap tables are already there), then one kernel crops, resizes, flips and normalizes the batch on the current
// stream.
at::Tensor resized_crop_batch_cuda(at::TensorList images, at::IntArrayRef flip_masks, const at::Tensor& y_starts,
                                   const at::Tensor& y_weights, const at::Tensor& x_starts, const at::Tensor& x_weights,
                                   std::optional<at::ArrayRef<double>> mean,
                                   std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                   std::optional<at::ScalarType> dtype, bool channels_last) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(),
              "fastload::resized_crop_batch (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  ResizedCropCall call = describe_resized_crop_batch(images, flip_masks, y_starts, y_weights, x_starts, x_weights, mean,
                                                     inv_std, channel_map, dtype, channels_last);
  // The tap tables are host tensors (checked there without a sync): they go up with the descriptors, in one copy.
  ResizedCropParams& p = call.params;
  const std::vector<HostTable> tables{{p.y_starts, y_starts.nbytes(), &p.y_starts},
                                      {p.y_weights, y_weights.nbytes(), &p.y_weights},
                                      {p.x_starts, x_starts.nbytes(), &p.x_starts},
                                      {p.x_weights, x_weights.nbytes(), &p.x_weights}};
  return launch_with_descriptors("fastload::resized_crop_batch", call, images[0].device(),
                                 cuda::launch_resized_crop_batch, tables);
}

// fastload::resized_crop_color on CUDA: the image and colour descriptors and the tap tables go to the device in one
// small asynchronous copy, then resized_crop_color.cu's launches (with a contrast step, the first sums into zeroed
// grey sums).
void run_resized_crop_color(ResizedCropColorCall& call, const at::Tensor& y_starts, const at::Tensor& y_weights,
                            const at::Tensor& x_starts, const at::Tensor& x_weights) {
  TORCH_CHECK(call.out.is_cuda(), "fastload::resized_crop_color (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(call.out.device());
  CropColorParams& p = call.params;
  at::Tensor sums;
  if (p.color.stats) {
    sums = at::zeros({p.n}, call.out.options().dtype(at::kLong));
    p.color.grey_sums = reinterpret_cast<unsigned long long*>(sums.data_ptr<int64_t>());
  }
  const std::vector<HostTable> tables{{p.y_starts, y_starts.nbytes(), &p.y_starts},
                                      {p.y_weights, y_weights.nbytes(), &p.y_weights},
                                      {p.x_starts, x_starts.nbytes(), &p.x_starts},
                                      {p.x_weights, x_weights.nbytes(), &p.x_weights},
                                      {call.colors.data(), call.colors.size() * sizeof(ColorImage), &p.color.images}};
  launch_with_descriptors("fastload::resized_crop_color", call, call.out.device(), cuda::launch_resized_crop_color,
                          tables);
}

// fastload::channel_stats on CUDA: the image descriptors go to the device in one small asynchronous copy, then one
// reduction kernel for the whole batch adds into the (2, C) totals on the current stream.
at::Tensor channel_stats_cuda(at::TensorList images, at::IntArrayRef flip_masks) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(),
              "fastload::channel_stats (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  ChannelStatsCall call = describe_channel_stats(images, flip_masks);
  return launch_with_descriptors("fastload::channel_stats", call, images[0].device(), cuda::launch_channel_stats);
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) {
  m.impl("normalize", &normalize_op<run_normalize>);
  m.impl("normalize_into", &normalize_into_op<run_normalize>);
  m.impl("denormalize", &denormalize_cuda);
  m.impl("denormalize_into", &Into<kDenormalizeInto, &denormalize_cuda>::run);
  m.impl("pad_batch", &pad_batch_cuda);
  m.impl("pad_batch_packed", &pad_batch_packed_cuda);
  m.impl("pad_batch_into", &Into<kPadBatchInto, &pad_batch_cuda>::run);
  m.impl("pad_batch_packed_into", &Into<kPadBatchPackedInto, &pad_batch_packed_cuda>::run);
  m.impl("resize_pad_batch", &resize_pad_batch_cuda);
  m.impl("resize_pad_batch_packed", &resize_pad_batch_packed_cuda);
  m.impl("resize_pad_batch_into", &Into<kResizePadBatchInto, &resize_pad_batch_cuda>::run);
  m.impl("resize_pad_batch_packed_into", &Into<kResizePadBatchPackedInto, &resize_pad_batch_packed_cuda>::run);
  m.impl("resized_crop_batch", &resized_crop_batch_cuda);
  m.impl("resized_crop_batch_into", &Into<kResizedCropBatchInto, &resized_crop_batch_cuda>::run);
  m.impl("resized_crop_color", &resized_crop_color_op<run_resized_crop_color>);
  m.impl("resized_crop_color_into", &Into<kResizedCropColorInto, &resized_crop_color_op<run_resized_crop_color>>::run);
  m.impl("channel_stats", &channel_stats_cuda);
  m.impl("mix_pairs", &mix_pairs_op<run_mix_pairs>);
  m.impl("mix_pairs_into", &mix_pairs_into_op<run_mix_pairs>);
  m.impl("adjust_color", &adjust_color_op<run_adjust_color>);
  m.impl("adjust_color_into", &adjust_color_into_op<run_adjust_color>);
  m.impl("adjust_color_normalize", &adjust_color_normalize_op<run_adjust_color>);
  m.impl("adjust_color_normalize_into",
         &Into<kAdjustColorNormalizeInto, &adjust_color_normalize_op<run_adjust_color>>::run);
  m.impl("augment", &augment_op<run_augment>);
  m.impl("warp_affine", &warp_affine_op<run_warp_affine>);
  m.impl("warp_affine_into", &warp_affine_into_op<run_warp_affine>);
}

}  // namespace fastload
