// fastload::resized_crop_batch on the CPU: parallel over images. Per image, the horizontal pass sums the taps of
// every source row the vertical taps touch once, into an fp32 row buffer (C values per output column), and the
// vertical pass sums those rows per output row (a contiguous, vectorizable loop), then normalizes (or rounds to
// uint8) and stores. The sums run in crop_math.h's order, so the result equals the reference bit for bit.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/isa.h"
#include "fastload/crop_math.h"
#include "ops/output.h"
#include "ops/resized_crop_batch.h"

namespace fastload {
namespace {

// Horizontal taps of source row `row` for every output column, all C channels (output order), interleaved: column
// x sums its first count[x] taps (the rest have weight 0, which would add +0) at byte offsets offsets[x * kx + j].
template <int C>
FL_CPU_CLONES void sum_columns(const uint8_t* row, const int64_t* offsets, const int64_t* count, const float* weights,
                               int64_t kx, int64_t w, const int64_t* channel_offsets, float* out) {
  for (int64_t x = 0; x < w; ++x) {
    float acc[C] = {};
    const int64_t* o = offsets + x * kx;
    const float* wx = weights + x * kx;
    for (int64_t j = 0; j < count[x]; ++j) {
      const uint8_t* px = row + o[j];
      for (int k = 0; k < C; ++k) acc[k] += wx[j] * static_cast<float>(px[channel_offsets[k]]);
    }
    for (int k = 0; k < C; ++k) out[x * C + k] = acc[k];
  }
}

// acc[i] += weight * row[i] over one output row's w * C values.
FL_CPU_CLONES void add_row(float* acc, const float* row, float weight, int64_t count) {
  for (int64_t i = 0; i < count; ++i) acc[i] += weight * row[i];
}

template <FloatDtype D>
void store_normalized(const ResizedCropParams& p, int64_t n, int64_t y, const float* acc) {
  using S = typename FloatTraits<D>::storage;
  S* out = static_cast<S*>(p.out);
  const int64_t plane = p.out_h * p.out_w;
  for (int64_t k = 0; k < p.c; ++k) {
    for (int64_t x = 0; x < p.out_w; ++x) {
      const S v = FloatTraits<D>::from_float(normalize_float(acc[x * p.c + k], p.mean[k], p.inv_std[k]));
      if (p.channels_last) {
        out[((n * p.out_h + y) * p.out_w + x) * p.c + k] = v;
      } else {
        out[(n * p.c + k) * plane + y * p.out_w + x] = v;
      }
    }
  }
}

void store_bytes(const ResizedCropParams& p, int64_t n, int64_t y, const float* acc) {
  uint8_t* out = static_cast<uint8_t*>(p.out) + (n * p.out_h + y) * p.out_w * p.c;
  for (int64_t i = 0; i < p.out_w * p.c; ++i) {
    out[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(acc[i]), 0.0f, 255.0f));  // half to even
  }
}

void crop_image(const ResizedCropParams& p, int64_t n) {
  const ImageDesc& img = p.images[n];
  const int64_t* ys = p.y_starts + n * p.out_h;
  const float* wy = p.y_weights + n * p.out_h * p.ky;
  const int64_t* xs = p.x_starts + n * p.out_w;
  const float* wx = p.x_weights + n * p.out_w * p.kx;
  // The source rows this image's weighted taps read: [first, last] (inside the image: describe() checked them).
  int64_t first = img.h, last = -1;
  for (int64_t y = 0; y < p.out_h; ++y) {
    for (int64_t k = 0; k < p.ky; ++k) {
      if (wy[y * p.ky + k] == 0.0f) continue;
      first = std::min(first, ys[y] + k);
      last = std::max(last, ys[y] + k);
    }
  }
  if (last < first) {  // every weight zero: every value is 0
    last = first = 0;
  }
  const int64_t row_values = p.out_w * p.c;
  std::vector<float> rows(static_cast<size_t>((last - first + 1) * row_values)), acc(row_values);
  // Per output column: how many taps there are up to the last weighted one, and their byte offsets.
  std::vector<int64_t> offsets(static_cast<size_t>(p.out_w * p.kx)), count(static_cast<size_t>(p.out_w));
  for (int64_t x = 0; x < p.out_w; ++x) {
    count[x] = 0;
    for (int64_t j = 0; j < p.kx; ++j) {
      if (wx[x * p.kx + j] != 0.0f) count[x] = j + 1;
    }
    for (int64_t j = 0; j < count[x]; ++j) offsets[x * p.kx + j] = (xs[x] + j) * img.stride_w;
  }
  int64_t channel_offsets[kMaxChannels];
  for (int64_t k = 0; k < p.c; ++k) channel_offsets[k] = p.channel_map[k] * img.stride_c;
  for (int64_t r = first; r <= last; ++r) {
    float* dst = rows.data() + (r - first) * row_values;
    const uint8_t* row = img.data + r * img.stride_h;
    if (p.c == 1) {
      sum_columns<1>(row, offsets.data(), count.data(), wx, p.kx, p.out_w, channel_offsets, dst);
    } else {
      sum_columns<3>(row, offsets.data(), count.data(), wx, p.kx, p.out_w, channel_offsets, dst);
    }
  }
  for (int64_t y = 0; y < p.out_h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t k = 0; k < p.ky; ++k) {
      if (wy[y * p.ky + k] == 0.0f) continue;  // would add +0 to every value
      add_row(acc.data(), rows.data() + (ys[y] + k - first) * row_values, wy[y * p.ky + k], row_values);
    }
    if (!p.normalize) {
      store_bytes(p, n, y, acc.data());
    } else {
      dispatch_float_dtype(p.dtype, [&](auto d) { store_normalized<decltype(d)::value>(p, n, y, acc.data()); });
    }
  }
}

at::Tensor resized_crop_batch_cpu(at::TensorList images, at::IntArrayRef flip_masks, const at::Tensor& y_starts,
                                  const at::Tensor& y_weights, const at::Tensor& x_starts,
                                  const at::Tensor& x_weights, std::optional<at::ArrayRef<double>> mean,
                                  std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                  std::optional<at::ScalarType> dtype, bool channels_last) {
  ResizedCropCall call = describe_resized_crop_batch(images, flip_masks, y_starts, y_weights, x_starts, x_weights,
                                                     mean, inv_std, channel_map, dtype, channels_last);
  ResizedCropParams& p = call.params;
  p.images = call.images.data();
  if (p.n * p.out_h * p.out_w == 0) return call.out;
  at::parallel_for(0, p.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) crop_image(p, n);
  });
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("resized_crop_batch", &resized_crop_batch_cpu);
  m.impl("resized_crop_batch_into", &Into<kResizedCropBatchInto, &resized_crop_batch_cpu>::run);
}

}  // namespace fastload
