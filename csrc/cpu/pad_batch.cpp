// fastload::pad_batch / pad_batch_packed on the CPU: parallel over the batch's output rows; each row is the image's
// row (normalized with the shared row kernels, or copied) followed by the padding, so every output element is
// written exactly once and there is no separate fill pass.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>

#include "cpu/normalize_rows.h"
#include "math/pad_batch_math.h"
#include "ops/pad_batch.h"
#include "memory/output.h"

namespace fastload {
namespace {

// Calls row(n, y, img, valid) for every output row of the batch, in parallel (tasks of about `grain_elements`
// output values); `valid` is how many of the row's pixels come from the image (0 below it).
template <typename RowFn>
void for_each_row(const PadBatchParams& p, int64_t grain_elements, const RowFn& row) {
  const int64_t grain = std::max<int64_t>(1, grain_elements / std::max<int64_t>(1, p.out_w * p.c));
  at::parallel_for(0, p.n * p.out_h, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / p.out_h, y = r % p.out_h;
      const ImageDesc& img = p.images[n];
      row(n, y, img, y < img.h ? img.w : 0);
    }
  });
}

template <FloatDtype D>
void pad_normalized(const PadBatchParams& p) {
  using S = typename FloatTraits<D>::storage;
  const RowNormalizer<D> rows(p.c, p.channel_map, p.mean, p.inv_std, p.channels_last);
  S pad[kMaxChannels];
  for (int64_t k = 0; k < p.c; ++k) pad[k] = FloatTraits<D>::from_float(p.pad_value[k]);
  const int64_t plane = p.out_h * p.out_w;
  S* const out = static_cast<S*>(p.out);
  for_each_row(p, 32768, [&](int64_t n, int64_t y, const ImageDesc& img, int64_t valid) {
    S* row = p.channels_last ? out + (n * plane + y * p.out_w) * p.c : out + n * p.c * plane + y * p.out_w;
    if (valid > 0) rows(img.data + y * img.stride_h, img.stride_w, img.stride_c, row, plane, valid);
    if (p.channels_last) {
      for (int64_t x = valid; x < p.out_w; ++x)
        for (int64_t k = 0; k < p.c; ++k) row[x * p.c + k] = pad[k];
    } else {
      for (int64_t k = 0; k < p.c; ++k) std::fill(row + k * plane + valid, row + k * plane + p.out_w, pad[k]);
    }
  });
}

void pad_bytes(const PadBatchParams& p) {
  uint8_t* const out = static_cast<uint8_t*>(p.out);
  const bool keep = classify_channels(p.channel_map, p.c) == ChannelOrder::kKeep;
  for_each_row(p, 65536, [&](int64_t n, int64_t y, const ImageDesc& img, int64_t valid) {
    uint8_t* row = out + (n * p.out_h + y) * p.out_w * p.c;
    const uint8_t* src = img.data + y * img.stride_h;
    if (valid > 0 && keep && img.stride_w == p.c && img.stride_c == 1) {
      std::memcpy(row, src, static_cast<size_t>(valid * p.c));
    } else {
      for (int64_t x = 0; x < valid; ++x)
        for (int64_t k = 0; k < p.c; ++k) row[x * p.c + k] = src[x * img.stride_w + p.channel_map[k] * img.stride_c];
    }
    for (int64_t x = valid; x < p.out_w; ++x)
      for (int64_t k = 0; k < p.c; ++k) row[x * p.c + k] = p.pad_byte[k];
  });
}

at::Tensor run(PadBatchCall call) {
  PadBatchParams& p = call.params;
  p.images = call.images.data();
  if (p.n * p.out_h * p.out_w == 0) return call.out;
  if (!p.normalize) {
    pad_bytes(p);
  } else {
    dispatch_float_dtype(p.dtype, [&](auto d) { pad_normalized<decltype(d)::value>(p); });
  }
  return call.out;
}

at::Tensor pad_batch_cpu(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                         std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> inv_std,
                         at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                         std::optional<at::ScalarType> dtype, bool channels_last) {
  return run(
      describe_pad_batch(images, flip_masks, batch_hw, mean, inv_std, channel_map, pad_value, dtype, channels_last));
}

at::Tensor pad_batch_packed_cpu(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                int64_t channels, at::IntArrayRef batch_hw, std::optional<at::ArrayRef<double>> mean,
                                std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                bool channels_last) {
  return run(describe_pad_batch(data, offsets, sizes, channels, batch_hw, mean, inv_std, channel_map, pad_value, dtype,
                                channels_last));
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("pad_batch", &pad_batch_cpu);
  m.impl("pad_batch_packed", &pad_batch_packed_cpu);
  m.impl("pad_batch_into", &Into<kPadBatchInto, &pad_batch_cpu>::run);
  m.impl("pad_batch_packed_into", &Into<kPadBatchPackedInto, &pad_batch_packed_cpu>::run);
}

}  // namespace fastload
