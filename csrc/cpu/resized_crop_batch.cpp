// fastload::resized_crop_batch on the CPU: parallel over images x output rows. Per image, each source row the
// vertical taps weight is summed horizontally once, into a ring of fp32 rows (planar: a plane of output columns per
// channel) that holds the ky rows the current output row reads; the vertical pass then sums those rows per output
// row (a contiguous, vectorizable loop) and normalizes (or rounds to uint8) and stores. The horizontal taps run 16
// output columns at a time, one AVX-512 gather (or two AVX2 gathers) fetching a pixel's channels for 16 columns. The
// sums run in crop_math.h's order, so the result equals the reference bit for bit.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "cpu/isa.h"
#include "fastload/crop_math.h"
#include "ops/output.h"
#include "ops/resized_crop_batch.h"

namespace fastload {
namespace {

constexpr int64_t kLanes = 16;  // output columns summed together: one AVX-512 gather, two AVX2 gathers

// One image's horizontal taps regrouped kLanes output columns at a time. Group g (columns g * 16 ... g * 16 + 15)
// has taps[g] taps, as many as its columns' largest count up to their last weighted tap; tap j of lane l reads
// source column columns[(first[g] + j) * 16 + l] with weight weights[same]. Padding (taps past a column's last weighted
// one, lanes past out_w) repeats a column the lane reads anyway, with weight 0: it adds +0 and reads no new pixel.
struct ColumnTaps {
  int64_t groups = 0;
  std::vector<int64_t> taps, first;
  std::vector<int32_t> columns;
  std::vector<float> weights;
  int64_t lowest = 0, highest = 0;  // the source columns read
};

ColumnTaps column_taps(const ResizedCropParams& p, int64_t n) {
  const int64_t* xs = p.x_starts + n * p.out_w;
  const float* wx = p.x_weights + n * p.out_w * p.kx;
  ColumnTaps t;
  t.groups = (p.out_w + kLanes - 1) / kLanes;
  std::vector<int64_t> count(static_cast<size_t>(p.out_w), 0);
  for (int64_t x = 0; x < p.out_w; ++x) {
    for (int64_t j = 0; j < p.kx; ++j) {
      if (wx[x * p.kx + j] != 0.0f) count[x] = j + 1;
    }
  }
  t.taps.resize(t.groups);
  t.first.resize(t.groups);
  int64_t total = 0;
  for (int64_t g = 0; g < t.groups; ++g) {
    int64_t taps = 0;
    for (int64_t x = g * kLanes; x < std::min(p.out_w, (g + 1) * kLanes); ++x) taps = std::max(taps, count[x]);
    t.taps[g] = taps;
    t.first[g] = total;
    total += taps;
  }
  t.columns.resize(total * kLanes);
  t.weights.resize(total * kLanes);
  t.lowest = t.highest = xs[0];
  for (int64_t g = 0; g < t.groups; ++g) {
    for (int64_t j = 0; j < t.taps[g]; ++j) {
      for (int64_t l = 0; l < kLanes; ++l) {
        const int64_t x = g * kLanes + l, column = std::min(x, p.out_w - 1);
        const int64_t tap = std::min(j, std::max<int64_t>(count[column] - 1, 0));  // the op checked it is inside
        const size_t i = (t.first[g] + j) * kLanes + l;
        t.columns[i] = static_cast<int32_t>(xs[column] + tap);
        t.weights[i] = x < p.out_w && j < count[x] ? wx[x * p.kx + j] : 0.0f;
        t.lowest = std::min<int64_t>(t.lowest, t.columns[i]);
        t.highest = std::max<int64_t>(t.highest, t.columns[i]);
      }
    }
  }
  return t;
}

// The horizontal taps of source row `row` into `out` (plane floats per channel, output channel order).
template <int C>
void taps_row(const uint8_t* row, const ColumnTaps& t, int64_t stride_w, const int64_t* channel_offsets, float* out,
              int64_t plane) {
  for (int64_t g = 0; g < t.groups; ++g) {
    for (int64_t l = 0; l < kLanes; ++l) {
      float acc[C] = {};
      for (int64_t j = 0; j < t.taps[g]; ++j) {
        const size_t i = (t.first[g] + j) * kLanes + l;
        const uint8_t* px = row + t.columns[i] * stride_w;
        for (int k = 0; k < C; ++k) acc[k] += t.weights[i] * static_cast<float>(px[channel_offsets[k]]);
      }
      for (int k = 0; k < C; ++k) out[k * plane + g * kLanes + l] = acc[k];
    }
  }
}

#if FL_HAVE_AVX2_ROWS
// taps_row for pixels whose C channel bytes lie in one 4-byte word at row + column * stride_w (the caller checked
// that every word read lies inside the image): one gather per tap fetches all channels of 8 columns (a group's two
// halves one after the other), output channel k is byte shifts[k] / 8 of the word. Same products and sums, in the
// same order, as taps_row.
template <int C>
FL_AVX2 void taps_row_avx2(const uint8_t* row, const ColumnTaps& t, int32_t stride_w, const int32_t* shifts,
                           float* out, int64_t plane) {
  const __m256i step = _mm256_set1_epi32(stride_w), byte = _mm256_set1_epi32(0xFF);
  __m256i shift[C];
  for (int k = 0; k < C; ++k) shift[k] = _mm256_set1_epi32(shifts[k]);
  for (int64_t g = 0; g < t.groups; ++g) {
    for (int64_t half = 0; half < kLanes; half += 8) {
      const int32_t* columns = t.columns.data() + t.first[g] * kLanes + half;
      const float* weights = t.weights.data() + t.first[g] * kLanes + half;
      __m256 acc[C];
      for (int k = 0; k < C; ++k) acc[k] = _mm256_setzero_ps();
      for (int64_t j = 0; j < t.taps[g]; ++j) {
        const __m256i at =
            _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(columns + j * kLanes)), step);
        const __m256i words = _mm256_i32gather_epi32(reinterpret_cast<const int*>(row), at, 1);
        const __m256 w = _mm256_loadu_ps(weights + j * kLanes);
        for (int k = 0; k < C; ++k) {
          const __m256 v = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(words, shift[k]), byte));
          acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(w, v));
        }
      }
      for (int k = 0; k < C; ++k) _mm256_storeu_ps(out + k * plane + g * kLanes + half, acc[k]);
    }
  }
}

// taps_row_avx2 with 16 columns a gather.
template <int C>
FL_AVX512 void taps_row_avx512(const uint8_t* row, const ColumnTaps& t, int32_t stride_w, const int32_t* shifts,
                               float* out, int64_t plane) {
  const __m512i step = _mm512_set1_epi32(stride_w), byte = _mm512_set1_epi32(0xFF);
  __m512i shift[C];
  for (int k = 0; k < C; ++k) shift[k] = _mm512_set1_epi32(shifts[k]);
  for (int64_t g = 0; g < t.groups; ++g) {
    const int32_t* columns = t.columns.data() + t.first[g] * kLanes;
    const float* weights = t.weights.data() + t.first[g] * kLanes;
    __m512 acc[C];
    for (int k = 0; k < C; ++k) acc[k] = _mm512_setzero_ps();
    for (int64_t j = 0; j < t.taps[g]; ++j) {
      const __m512i at = _mm512_mullo_epi32(_mm512_loadu_si512(columns + j * kLanes), step);
      const __m512i words = _mm512_i32gather_epi32(at, reinterpret_cast<const int*>(row), 1);
      const __m512 w = _mm512_loadu_ps(weights + j * kLanes);
      for (int k = 0; k < C; ++k) {
        const __m512 v = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(words, shift[k]), byte));
        acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, v));
      }
    }
    for (int k = 0; k < C; ++k) _mm512_storeu_ps(out + k * plane + g * kLanes, acc[k]);
  }
}
#endif

// Sums source rows horizontally for one image, with the gathers where the image's layout allows them.
class RowTaps {
 public:
  RowTaps(const ResizedCropParams& p, const ImageDesc& img, const ColumnTaps& t, int64_t plane)
      : p_(p), img_(img), t_(t), plane_(plane) {
    for (int64_t k = 0; k < p.c; ++k) channel_offsets_[k] = p.channel_map[k] * img.stride_c;
#if FL_HAVE_AVX2_ROWS
    const int64_t low = *std::min_element(channel_offsets_, channel_offsets_ + p.c);
    const int64_t high = *std::max_element(channel_offsets_, channel_offsets_ + p.c);
    // A pixel's word starts at its lowest channel byte (inside the image); the image's last byte bounds its end.
    const int64_t reach = std::max(std::abs(t.lowest * img.stride_w), std::abs(t.highest * img.stride_w));
    const int64_t far = std::max(t.lowest * img.stride_w, t.highest * img.stride_w) + low + 3;
    const int64_t last_byte = std::max<int64_t>(0, (img.h - 1) * img.stride_h) +
                              std::max<int64_t>(0, (img.w - 1) * img.stride_w) +
                              std::max<int64_t>(0, (p.c - 1) * img.stride_c);
    if (cpu_has_avx2() && high - low <= 3 && reach < INT32_MAX && std::abs(img.stride_w) < INT32_MAX) {
      word_offset_ = low;
      for (int64_t k = 0; k < p.c; ++k) shifts_[k] = static_cast<int32_t>(8 * (channel_offsets_[k] - low));
      last_word_row_ = last_byte - far;  // rows at byte offsets up to this one read whole words of the image
      const bool wide = cpu_has_avx512bw_vl();
      gathers_ = p.c == 1 ? (wide ? &taps_row_avx512<1> : &taps_row_avx2<1>)
                          : (wide ? &taps_row_avx512<3> : &taps_row_avx2<3>);
    }
#endif
  }

  void operator()(int64_t r, float* out) const {
    const uint8_t* row = img_.data + r * img_.stride_h;
#if FL_HAVE_AVX2_ROWS
    if (gathers_ && r * img_.stride_h <= last_word_row_) {
      gathers_(row + word_offset_, t_, static_cast<int32_t>(img_.stride_w), shifts_, out, plane_);
      return;
    }
#endif
    if (p_.c == 1) {
      taps_row<1>(row, t_, img_.stride_w, channel_offsets_, out, plane_);
    } else {
      taps_row<3>(row, t_, img_.stride_w, channel_offsets_, out, plane_);
    }
  }

 private:
  const ResizedCropParams& p_;
  const ImageDesc& img_;
  const ColumnTaps& t_;
  int64_t plane_;
  int64_t channel_offsets_[kMaxChannels] = {};
  // The gather loop for this image's layout and this CPU, or null where the words cannot be used.
  void (*gathers_)(const uint8_t*, const ColumnTaps&, int32_t, const int32_t*, float*, int64_t) = nullptr;
  int64_t word_offset_ = 0;
  int32_t shifts_[kMaxChannels] = {};
  int64_t last_word_row_ = 0;
};

// acc[i] += weight * row[i] over one output row's C planes.
FL_CPU_CLONES void add_row(float* acc, const float* row, float weight, int64_t count) {
  for (int64_t i = 0; i < count; ++i) acc[i] += weight * row[i];
}

// add_row onto a zeroed acc, without the pass that zeroes it (0 + x is x's bits, -0 becoming +0, as in the sum).
FL_CPU_CLONES void start_row(float* acc, const float* row, float weight, int64_t count) {
  for (int64_t i = 0; i < count; ++i) acc[i] = 0.0f + weight * row[i];
}

// Output row y of image n from `acc` (one plane of plane floats per channel).
template <FloatDtype D>
void store_normalized(const ResizedCropParams& p, int64_t n, int64_t y, const float* acc, int64_t plane) {
  using S = typename FloatTraits<D>::storage;
  S* out = static_cast<S*>(p.out);
  for (int64_t k = 0; k < p.c; ++k) {
    const float* a = acc + k * plane;
    const float mean = p.mean[k], inv_std = p.inv_std[k];
    if (p.channels_last) {
      S* dst = out + (n * p.out_h + y) * p.out_w * p.c + k;
      for (int64_t x = 0; x < p.out_w; ++x) {
        dst[x * p.c] = FloatTraits<D>::from_float(normalize_float(a[x], mean, inv_std));
      }
    } else {
      S* dst = out + ((n * p.c + k) * p.out_h + y) * p.out_w;
      for (int64_t x = 0; x < p.out_w; ++x) dst[x] = FloatTraits<D>::from_float(normalize_float(a[x], mean, inv_std));
    }
  }
}

void store_bytes(const ResizedCropParams& p, int64_t n, int64_t y, const float* acc, int64_t plane) {
  uint8_t* out = static_cast<uint8_t*>(p.out) + (n * p.out_h + y) * p.out_w * p.c;
  for (int64_t k = 0; k < p.c; ++k) {
    for (int64_t x = 0; x < p.out_w; ++x) {  // half to even
      out[x * p.c + k] = static_cast<uint8_t>(std::clamp(std::nearbyint(acc[k * plane + x]), 0.0f, 255.0f));
    }
  }
}

// Output rows y0 .. y1 - 1 of image n.
void crop_rows(const ResizedCropParams& p, int64_t n, int64_t y0, int64_t y1) {
  const int64_t* ys = p.y_starts + n * p.out_h;
  const float* wy = p.y_weights + n * p.out_h * p.ky;
  const ColumnTaps columns = column_taps(p, n);
  const int64_t plane = columns.groups * kLanes, row_values = p.c * plane;
  const RowTaps sum_row(p, p.images[n], columns, plane);
  // Source row r lives in slot r % ky once summed: an output row's ky consecutive rows never share a slot, and
  // with rows that only move down (every table fastload builds) each row is summed once per call.
  const auto ring = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(p.ky * row_values));
  const auto acc = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(row_values));
  std::vector<int64_t> ring_rows(static_cast<size_t>(p.ky), -1);
  for (int64_t y = y0; y < y1; ++y) {
    bool started = false;
    for (int64_t k = 0; k < p.ky; ++k) {
      const float weight = wy[y * p.ky + k];
      if (weight == 0.0f) continue;  // would add +0 to every value
      const int64_t r = ys[y] + k, slot = r % p.ky;
      float* row = ring.get() + slot * row_values;
      if (ring_rows[slot] != r) {
        sum_row(r, row);
        ring_rows[slot] = r;
      }
      (started ? add_row : start_row)(acc.get(), row, weight, row_values);
      started = true;
    }
    if (!started) std::fill(acc.get(), acc.get() + row_values, 0.0f);  // no weighted tap: every value is 0
    if (!p.normalize) {
      store_bytes(p, n, y, acc.get(), plane);
    } else {
      dispatch_float_dtype(p.dtype, [&](auto d) { store_normalized<decltype(d)::value>(p, n, y, acc.get(), plane); });
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
  // Images x rows, so that a single image (a per-sample transform) or a small batch also uses every thread; a range
  // that starts inside an image sums the source rows of its first output row again (at most ky of them).
  const int64_t grain = std::max<int64_t>(16, 65536 / std::max<int64_t>(1, p.out_w * p.c));
  at::parallel_for(0, p.n * p.out_h, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end;) {
      const int64_t n = row / p.out_h, y0 = row % p.out_h, y1 = std::min(p.out_h, y0 + (end - row));
      crop_rows(p, n, y0, y1);
      row += y1 - y0;
    }
  });
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("resized_crop_batch", &resized_crop_batch_cpu);
  m.impl("resized_crop_batch_into", &Into<kResizedCropBatchInto, &resized_crop_batch_cpu>::run);
}

}  // namespace fastload
