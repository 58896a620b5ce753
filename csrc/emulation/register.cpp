// The `fastload_emulation` library: every op on CPU tensors through the CUDA kernel sources (csrc/cuda/*.cu compiled
// by the host compiler), with the same argument checks as the real ops and every global access of every emulated
// thread checked against the buffers registered here (the inputs read-only, the output writable). Built when
// FASTLOAD_CUDA_EMULATION=1; selected with FASTLOAD_BACKEND=cuda-emulation.
#define FL_EMULATION 1
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <string>
#include <vector>

#include "cuda/launches.h"
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
#include "ops/schemas.h"
#include "memory/output.h"

namespace fastload {
namespace {

using emulation::Buffer;
using emulation::strided_buffer;

// strided_buffer takes strides in bytes; tensors count them in elements.
Buffer tensor_buffer(std::string name, const at::Tensor& t, bool writable) {
  std::vector<int64_t> strides(t.strides().begin(), t.strides().end());
  for (int64_t& s : strides) s *= t.element_size();
  return strided_buffer(std::move(name), t.data_ptr(), t.sizes().data(), strides.data(), static_cast<int>(t.dim()),
                        t.element_size(), writable);
}

Buffer image_buffer(std::string name, const ImageDesc& d, int64_t c) {
  const int64_t sizes[3] = {d.h, d.w, c};
  const int64_t strides[3] = {d.stride_h, d.stride_w, d.stride_c};
  return strided_buffer(std::move(name), d.data, sizes, strides, 3, 1, false);
}

template <typename Desc>
Buffer descriptor_buffer(const std::vector<Desc>& descs, std::string name = "descriptors") {
  const auto begin = reinterpret_cast<uintptr_t>(descs.data());
  return Buffer{std::move(name), begin, begin + descs.size() * sizeof(Desc), false};
}

void run_normalize(const at::Tensor& img, const NormalizeParams& p) {
  const int64_t sizes[4] = {p.n, p.h, p.w, p.c};
  const int64_t strides[4] = {p.in_stride_n, p.in_stride_h, p.in_stride_w, p.in_stride_c};
  const int64_t out_elements = p.n * p.c * p.h * p.w;
  const int64_t out_bytes = out_elements * (p.dtype == FloatDtype::kFloat32 ? 4 : 2);
  const auto out = reinterpret_cast<uintptr_t>(p.out);
  const emulation::BufferScope scope({strided_buffer("img", p.in, sizes, strides, 4, 1, false),
                                      Buffer{"out", out, out + static_cast<uintptr_t>(out_bytes), true}});
  emulation::launch_normalize(p, nullptr);
}

at::Tensor denormalize_emulated(const at::Tensor& x, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                                at::IntArrayRef channel_map) {
  at::Tensor out;
  const DenormalizeParams p = describe_denormalize(x, mean, std, channel_map, out);
  const emulation::BufferScope scope({tensor_buffer("x", x, false), tensor_buffer("out", out, true)});
  emulation::launch_denormalize(p, nullptr);
  return out;
}

// In place (out is x), x is the one buffer and writable; else x is read-only and out the written buffer.
void run_mix_pairs(const at::Tensor& x, const MixPairsParams& p) {
  const int64_t sizes[4] = {p.n, p.c, p.h, p.w};
  int64_t strides[4];
  for (int d = 0; d < 4; ++d) strides[d] = p.out_stride[d] * x.element_size();
  Buffer out = strided_buffer("out", p.out, sizes, strides, 4, x.element_size(), true);
  if (p.out == p.in) {
    const emulation::BufferScope scope({std::move(out)});
    return emulation::launch_mix_pairs(p, nullptr);
  }
  const emulation::BufferScope scope({tensor_buffer("x", x, false), std::move(out)});
  emulation::launch_mix_pairs(p, nullptr);
}

// The descriptors, the grey sums, counts and tables are buffers too; in place (out is images) the batch is one
// writable buffer.
void run_adjust_color(const at::Tensor& images, AdjustColorCall& call) {
  AdjustColorParams& p = call.params;
  p.images = call.images.data();
  at::Tensor sums, histograms, luts;
  std::vector<Buffer> buffers{descriptor_buffer(call.images), tensor_buffer("out", call.out, true)};
  if (p.stats) {
    sums = at::zeros({p.n}, at::kLong);
    histograms = at::zeros({p.n, 3 * 256}, at::kLong);
    luts = at::zeros({p.n, 3 * 256}, at::kByte);
    p.grey_sums = reinterpret_cast<unsigned long long*>(sums.data_ptr<int64_t>());
    p.histograms = reinterpret_cast<unsigned long long*>(histograms.data_ptr<int64_t>());
    p.luts = luts.data_ptr<uint8_t>();
    buffers.push_back(tensor_buffer("grey_sums", sums, true));
    buffers.push_back(tensor_buffer("histograms", histograms, true));
    buffers.push_back(tensor_buffer("luts", luts, true));
  }
  const at::Tensor scratch = bind_sharpness_scratch(images, call);
  if (scratch.defined()) buffers.push_back(tensor_buffer("sharpened", scratch, true));
  if (p.out != p.in) buffers.push_back(tensor_buffer("images", images, false));
  const emulation::BufferScope scope(std::move(buffers));
  emulation::launch_adjust_color(p, nullptr);
}

// The stages' descriptors, torch's linspace tables, the images (read-only), the scratch batches, sums, tables and
// out (writable) are buffers.
void run_augment(const at::Tensor& images, AugmentCall& call) {
  AugmentParams& p = call.params;
  if (p.stages == 0) {
    call.out.copy_(images);
    return;
  }
  p.kinds = call.kinds.data(), p.turns = call.turns.data(), p.colors = call.colors.data();
  p.warps = call.warps.data(), p.stage_uses = call.stage_uses.data();
  p.warp.base_x = call.base_x.data_ptr<float>();
  p.warp.base_y = call.base_y.data_ptr<float>();
  // As the CUDA runner allocates them: scratch batches for the stages before the last (at most two), statistics
  // buffers only when a stage has a statistics step.
  const at::Tensor scratch = at::empty({std::min<int64_t>(p.stages - 1, 2), p.n, p.c, p.h, p.w}, at::kByte);
  for (int64_t k = 0; k < scratch.size(0); ++k) p.scratch[k] = scratch[k].data_ptr<uint8_t>();
  std::vector<Buffer> buffers{descriptor_buffer(call.kinds, "kinds"),      descriptor_buffer(call.turns, "turns"),
                              descriptor_buffer(call.colors, "colours"),   descriptor_buffer(call.warps, "warps"),
                              tensor_buffer("base_x", call.base_x, false), tensor_buffer("base_y", call.base_y, false),
                              tensor_buffer("images", images, false),      tensor_buffer("scratch", scratch, true),
                              tensor_buffer("out", call.out, true)};
  at::Tensor sums, luts;
  if (augment_has_statistics(call)) {
    sums = at::zeros({p.stages, p.n, 1 + 3 * 256}, at::kLong);
    p.sums = reinterpret_cast<unsigned long long*>(sums.data_ptr<int64_t>());
    luts = at::zeros({p.n, 3 * 256}, at::kByte);
    p.color.luts = luts.data_ptr<uint8_t>();
    buffers.push_back(tensor_buffer("sums", sums, true));
    buffers.push_back(tensor_buffer("luts", luts, true));
  }
  const emulation::BufferScope scope(std::move(buffers));
  emulation::launch_augment(p, nullptr);
}

// The descriptors, torch's linspace tables, the images (read-only) and out (writable) are buffers.
void run_warp_affine(const at::Tensor& images, WarpAffineCall& call) {
  WarpAffineParams& p = call.params;
  p.images = call.images.data();
  p.base_x = call.base_x.data_ptr<float>();
  p.base_y = call.base_y.data_ptr<float>();
  const emulation::BufferScope scope({descriptor_buffer(call.images), tensor_buffer("base_x", call.base_x, false),
                                      tensor_buffer("base_y", call.base_y, false),
                                      tensor_buffer("images", images, false), tensor_buffer("out", call.out, true)});
  emulation::launch_warp_affine(p, nullptr);
}

template <typename Call, typename Launch>
at::Tensor run_batch(Call call, Launch launch, std::vector<Buffer> buffers = {}) {
  auto& p = call.params;
  p.images = call.images.data();
  buffers.push_back(descriptor_buffer(call.images));
  buffers.push_back(tensor_buffer("out", call.out, true));
  for (size_t i = 0; i < call.images.size(); ++i) {
    if constexpr (std::is_same_v<typename decltype(call.images)::value_type, ImageDesc>) {
      buffers.push_back(image_buffer("images[" + std::to_string(i) + "]", call.images[i], p.c));
    } else {
      buffers.push_back(image_buffer("images[" + std::to_string(i) + "]", call.images[i].src, p.c));
    }
  }
  const emulation::BufferScope scope(std::move(buffers));
  launch(p, nullptr);
  return call.out;
}

at::Tensor pad_batch_emulated(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                              std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> inv_std,
                              at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                              std::optional<at::ScalarType> dtype, bool channels_last) {
  return run_batch(
      describe_pad_batch(images, flip_masks, batch_hw, mean, inv_std, channel_map, pad_value, dtype, channels_last),
      emulation::launch_pad_batch);
}

at::Tensor pad_batch_packed_emulated(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                     int64_t channels, at::IntArrayRef batch_hw,
                                     std::optional<at::ArrayRef<double>> mean,
                                     std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                     at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                     bool channels_last) {
  return run_batch(describe_pad_batch(data, offsets, sizes, channels, batch_hw, mean, inv_std, channel_map, pad_value,
                                      dtype, channels_last),
                   emulation::launch_pad_batch);
}

at::Tensor resize_pad_batch_emulated(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef new_sizes,
                                     at::IntArrayRef batch_hw, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                     at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                     c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  return run_batch(describe_resize_pad_batch(images, flip_masks, new_sizes, batch_hw, mean, inv_std, channel_map,
                                             pad_value, interpolation, dtype, channels_last),
                   emulation::launch_resize_pad_batch);
}

at::Tensor resize_pad_batch_packed_emulated(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                            int64_t channels, at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                            at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                            at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                            c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  return run_batch(describe_resize_pad_batch(data, offsets, sizes, channels, new_sizes, batch_hw, mean, inv_std,
                                             channel_map, pad_value, interpolation, dtype, channels_last),
                   emulation::launch_resize_pad_batch);
}

at::Tensor resized_crop_batch_emulated(at::TensorList images, at::IntArrayRef flip_masks, const at::Tensor& y_starts,
                                       const at::Tensor& y_weights, const at::Tensor& x_starts,
                                       const at::Tensor& x_weights, std::optional<at::ArrayRef<double>> mean,
                                       std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                       std::optional<at::ScalarType> dtype, bool channels_last) {
  return run_batch(describe_resized_crop_batch(images, flip_masks, y_starts, y_weights, x_starts, x_weights, mean,
                                               inv_std, channel_map, dtype, channels_last),
                   emulation::launch_resized_crop_batch,
                   {tensor_buffer("y_starts", y_starts, false), tensor_buffer("y_weights", y_weights, false),
                    tensor_buffer("x_starts", x_starts, false), tensor_buffer("x_weights", x_weights, false)});
}

// Beside run_batch's buffers: the tap tables, the colour descriptors and, with a contrast step, the grey sums
// (run_batch takes a copy of the call; p.color.images points into this one's, alive until it returns).
void run_resized_crop_color(ResizedCropColorCall& call, const at::Tensor& y_starts, const at::Tensor& y_weights,
                            const at::Tensor& x_starts, const at::Tensor& x_weights) {
  CropColorParams& p = call.params;
  p.color.images = call.colors.data();
  std::vector<Buffer> buffers{tensor_buffer("y_starts", y_starts, false), tensor_buffer("y_weights", y_weights, false),
                              tensor_buffer("x_starts", x_starts, false), tensor_buffer("x_weights", x_weights, false),
                              descriptor_buffer(call.colors, "colour descriptors")};
  at::Tensor sums;
  if (p.color.stats) {
    sums = at::zeros({p.n}, at::kLong);
    p.color.grey_sums = reinterpret_cast<unsigned long long*>(sums.data_ptr<int64_t>());
    buffers.push_back(tensor_buffer("grey_sums", sums, true));
  }
  run_batch(call, emulation::launch_resized_crop_color, std::move(buffers));
}

at::Tensor channel_stats_emulated(at::TensorList images, at::IntArrayRef flip_masks) {
  return run_batch(describe_channel_stats(images, flip_masks), emulation::launch_channel_stats);
}

std::vector<std::string> launch_log() { return emulation::take_launch_log(); }

}  // namespace

TORCH_LIBRARY(fastload_emulation, m) {
  define_schemas(m);
  // The kernels launched since the last call ("name grid_x x grid_y blocks of threads"), oldest first; clears it.
  m.def("launch_log() -> str[]", &launch_log);
}

TORCH_LIBRARY_IMPL(fastload_emulation, CPU, m) {
  m.impl("normalize", &normalize_op<run_normalize>);
  m.impl("normalize_into", &normalize_into_op<run_normalize>);
  m.impl("denormalize", &denormalize_emulated);
  m.impl("pad_batch", &pad_batch_emulated);
  m.impl("pad_batch_packed", &pad_batch_packed_emulated);
  m.impl("resize_pad_batch", &resize_pad_batch_emulated);
  m.impl("resize_pad_batch_packed", &resize_pad_batch_packed_emulated);
  m.impl("denormalize_into", &Into<kDenormalizeInto, &denormalize_emulated>::run);
  m.impl("pad_batch_into", &Into<kPadBatchInto, &pad_batch_emulated>::run);
  m.impl("pad_batch_packed_into", &Into<kPadBatchPackedInto, &pad_batch_packed_emulated>::run);
  m.impl("resize_pad_batch_into", &Into<kResizePadBatchInto, &resize_pad_batch_emulated>::run);
  m.impl("resize_pad_batch_packed_into", &Into<kResizePadBatchPackedInto, &resize_pad_batch_packed_emulated>::run);
  m.impl("channel_stats", &channel_stats_emulated);
  m.impl("augment", &augment_op<run_augment>);
  m.impl("resized_crop_batch", &resized_crop_batch_emulated);
  m.impl("resized_crop_batch_into", &Into<kResizedCropBatchInto, &resized_crop_batch_emulated>::run);
  m.impl("resized_crop_color", &resized_crop_color_op<run_resized_crop_color>);
  m.impl("resized_crop_color_into", &Into<kResizedCropColorInto, &resized_crop_color_op<run_resized_crop_color>>::run);
  m.impl("mix_pairs", &mix_pairs_op<run_mix_pairs>);
  m.impl("mix_pairs_into", &mix_pairs_into_op<run_mix_pairs>);
  m.impl("adjust_color", &adjust_color_op<run_adjust_color>);
  m.impl("adjust_color_into", &adjust_color_into_op<run_adjust_color>);
  m.impl("adjust_color_normalize", &adjust_color_normalize_op<run_adjust_color>);
  m.impl("adjust_color_normalize_into",
         &Into<kAdjustColorNormalizeInto, &adjust_color_normalize_op<run_adjust_color>>::run);
  m.impl("warp_affine", &warp_affine_op<run_warp_affine>);
  m.impl("warp_affine_into", &warp_affine_into_op<run_warp_affine>);
}

}  // namespace fastload
