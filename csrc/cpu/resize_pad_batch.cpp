// fastload::resize_pad_batch(_packed) on the CPU: parallel over the batch's output rows. Each row resamples its
// image's row (source row taps computed once per row, column taps once per image), normalizes, and pads the rest:
// every output element written once.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "cpu/isa.h"
#include "math/resize_math.h"
#include "ops/resize_pad_batch.h"
#include "memory/output.h"

namespace fastload {
namespace {

// Column taps of one image, computed once per call: byte offsets of the two neighbours and the weight of the
// second (nearest: both offsets equal, weight 0), so the row loops are plain gathers and fp32 arithmetic.
struct ColumnTaps {
  std::vector<int64_t> off0, off1;
  std::vector<float> frac;
};

ColumnTaps column_taps(const ResizePadBatchParams& p, const ResizeDesc& r) {
  ColumnTaps t;
  t.off0.resize(r.new_w);
  t.off1.resize(r.new_w);
  t.frac.resize(r.new_w);
  for (int64_t x = 0; x < r.new_w; ++x) {
    if (p.interpolation == Interpolation::kNearest) {
      t.off0[x] = t.off1[x] = nearest_index(x, r.scale_x, r.src.w) * r.src.stride_w;
      t.frac[x] = 0.0f;
    } else {
      const LinearTap tap = linear_tap(x, r.scale_x, r.src.w);
      t.off0[x] = tap.i0 * r.src.stride_w;
      t.off1[x] = tap.i1 * r.src.stride_w;
      t.frac[x] = tap.frac;
    }
  }
  return t;
}

// Horizontal pass of one source row: for every output column, all C channels (output order), as fp32
// blend(row[x0], row[x1], frac), one plane of `w` values per channel (channel k at out + k * w), so that the vertical
// pass reads each channel contiguously. Nearest has equal offsets and frac 0, which returns the value exactly.
FL_CPU_CLONES void resample_columns(const uint8_t* row, const int64_t* channel_offsets, int64_t c, const int64_t* off0,
                                    const int64_t* off1, const float* frac, int64_t w, float* out) {
  for (int64_t k = 0; k < c; ++k) {
    const uint8_t* base = row + channel_offsets[k];
    float* plane = out + k * w;
    for (int64_t x = 0; x < w; ++x) plane[x] = blend(base[off0[x]], base[off1[x]], frac[x]);
  }
}

// Vertical pass of one channel: blend the two horizontally resampled rows, normalize, store with `step`. The
// contiguous store (NCHW) has its own loop, which the compiler vectorizes.
template <FloatDtype D>
FL_CPU_CLONES void blend_rows(const float* top, const float* bottom, float fy, int64_t w, float mean, float inv_std,
                              typename FloatTraits<D>::storage* dst, int64_t step) {
  using T = FloatTraits<D>;
  if (step == 1) {
    for (int64_t x = 0; x < w; ++x)
      dst[x] = T::from_float(normalize_float(blend(top[x], bottom[x], fy), mean, inv_std));
    return;
  }
  for (int64_t x = 0; x < w; ++x) {
    dst[x * step] = T::from_float(normalize_float(blend(top[x], bottom[x], fy), mean, inv_std));
  }
}

// The horizontally resampled source rows a thread needs: the last two stay cached, since neighbouring output rows
// mostly read the same source rows (each is computed once instead of once per output row that uses it).
class RowCache {
 public:
  RowCache(const ResizePadBatchParams& p, const std::vector<ColumnTaps>& columns) : p_(p), columns_(columns) {
    for (auto& slot : slots_) slot.values.resize(static_cast<size_t>(p.out_w * p.c));
    for (int64_t k = 0; k < p.c; ++k) channel_offsets_[k] = 0;
  }

  // Row `y` of image `n`, resampled; never evicts the row keyed `keep`.
  const float* get(int64_t n, int64_t y, int64_t keep_n, int64_t keep_y) {
    for (auto& slot : slots_) {
      if (slot.n == n && slot.y == y) return slot.values.data();
    }
    Slot& slot = (slots_[0].n == keep_n && slots_[0].y == keep_y) ? slots_[1] : slots_[0];
    const ResizeDesc& img = p_.images[n];
    for (int64_t k = 0; k < p_.c; ++k) channel_offsets_[k] = p_.channel_map[k] * img.src.stride_c;
    const ColumnTaps& cols = columns_[n];
    resample_columns(img.src.data + y * img.src.stride_h, channel_offsets_, p_.c, cols.off0.data(), cols.off1.data(),
                     cols.frac.data(), img.new_w, slot.values.data());
    slot.n = n;
    slot.y = y;
    return slot.values.data();
  }

 private:
  struct Slot {
    int64_t n = -1, y = -1;
    std::vector<float> values;
  };
  const ResizePadBatchParams& p_;
  const std::vector<ColumnTaps>& columns_;
  Slot slots_[2];
  int64_t channel_offsets_[kMaxChannels];
};

template <FloatDtype D>
void resize_pad_kernel(const ResizePadBatchParams& p) {
  using T = FloatTraits<D>;
  using S = typename T::storage;
  const int64_t plane = p.out_h * p.out_w;
  S* const out = static_cast<S*>(p.out);
  S pad[kMaxChannels];
  for (int64_t k = 0; k < p.c; ++k) pad[k] = T::from_float(p.pad_value[k]);
  std::vector<ColumnTaps> columns(p.n);
  at::parallel_for(0, p.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) columns[i] = column_taps(p, p.images[i]);
  });
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, p.out_w * p.c));
  at::parallel_for(0, p.n * p.out_h, grain, [&](int64_t begin, int64_t end) {
    RowCache cache(p, columns);
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / p.out_h, y = r % p.out_h;
      const ResizeDesc& img = p.images[n];
      const int64_t valid = y < img.new_h ? img.new_w : 0;
      S* row = p.channels_last ? out + (n * plane + y * p.out_w) * p.c : out + n * p.c * plane + y * p.out_w;
      const int64_t step = p.channels_last ? p.c : 1;
      const float* top = nullptr;
      const float* bottom = nullptr;
      float fy = 0.0f;
      if (valid > 0) {
        int64_t y0, y1;
        if (p.interpolation == Interpolation::kNearest) {
          y0 = y1 = nearest_index(y, img.scale_y, img.src.h);
        } else {
          const LinearTap tap = linear_tap(y, img.scale_y, img.src.h);
          y0 = tap.i0, y1 = tap.i1, fy = tap.frac;
        }
        top = cache.get(n, y0, n, y1);
        bottom = cache.get(n, y1, n, y0);
      }
      for (int64_t k = 0; k < p.c; ++k) {
        S* dst = row + (p.channels_last ? k : k * plane);
        if (valid > 0) {
          blend_rows<D>(top + k * img.new_w, bottom + k * img.new_w, fy, valid, p.mean[k], p.inv_std[k], dst, step);
        }
        if (step == 1) {
          std::fill(dst + valid, dst + p.out_w, pad[k]);
        } else {
          for (int64_t x = valid; x < p.out_w; ++x) dst[x * step] = pad[k];
        }
      }
    }
  });
}

at::Tensor run(ResizePadBatchCall call) {
  ResizePadBatchParams& p = call.params;
  p.images = call.images.data();
  if (p.n * p.out_h * p.out_w > 0) {
    dispatch_float_dtype(p.dtype, [&](auto d) { resize_pad_kernel<decltype(d)::value>(p); });
  }
  return call.out;
}

at::Tensor resize_pad_batch_cpu(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef new_sizes,
                                at::IntArrayRef batch_hw, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  return run(describe_resize_pad_batch(images, flip_masks, new_sizes, batch_hw, mean, inv_std, channel_map, pad_value,
                                       interpolation, dtype, channels_last));
}

at::Tensor resize_pad_batch_packed_cpu(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                       int64_t channels, at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                       at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                       at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                       c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  return run(describe_resize_pad_batch(data, offsets, sizes, channels, new_sizes, batch_hw, mean, inv_std, channel_map,
                                       pad_value, interpolation, dtype, channels_last));
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("resize_pad_batch", &resize_pad_batch_cpu);
  m.impl("resize_pad_batch_packed", &resize_pad_batch_packed_cpu);
  m.impl("resize_pad_batch_into", &Into<kResizePadBatchInto, &resize_pad_batch_cpu>::run);
  m.impl("resize_pad_batch_packed_into", &Into<kResizePadBatchPackedInto, &resize_pad_batch_packed_cpu>::run);
}

}  // namespace fastload
