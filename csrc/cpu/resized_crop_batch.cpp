// fastload::resized_crop_batch on the CPU: parallel over images x output rows. Per image, each source row the
// vertical taps weight is summed horizontally once, into a ring of fp32 rows (planar: a plane of output columns per
// channel) that holds the ky rows the current output row reads; the vertical pass then sums those rows per output
// row (a contiguous, vectorizable loop) and normalizes (or rounds to uint8) and stores. The horizontal taps
// (crop_columns.h) run 16 output columns at a time, their pixels picked out of a window of the source row in
// registers. The sums run in crop_math.h's order, so the result equals the reference bit for bit.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "cpu/crop_columns.h"
#include "cpu/isa.h"
#include "fastload/crop_math.h"
#include "ops/output.h"
#include "ops/resized_crop_batch.h"

namespace fastload {
namespace {

// acc[i] += weight * row[i] over one output row's C planes.
FL_CPU_CLONES void add_row(float* acc, const float* row, float weight, int64_t count) {
  for (int64_t i = 0; i < count; ++i) acc[i] += weight * row[i];
}

// add_row onto a zeroed acc, without the pass that zeroes it (0 + x is x's bits, -0 becoming +0, as in the sum).
FL_CPU_CLONES void start_row(float* acc, const float* row, float weight, int64_t count) {
  for (int64_t i = 0; i < count; ++i) acc[i] = 0.0f + weight * row[i];
}

#if FL_HAVE_AVX2_ROWS
// (a - mean) * inv_std of `count` values into 32-byte aligned fp32 memory with streaming stores: a batch is far
// larger than the caches and written once, so its lines need not be read first (half the output's memory traffic).
FL_AVX512 void stream_normalized_avx512(float* dst, const float* a, float mean, float inv_std, int64_t count) {
  const __m512 m = _mm512_set1_ps(mean), s = _mm512_set1_ps(inv_std);
  int64_t x = 0;
  for (; x + 16 <= count && reinterpret_cast<uintptr_t>(dst + x) % 64 != 0; x += 8)  // to a 64-byte boundary
    _mm256_stream_ps(dst + x, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(a + x), _mm512_castps512_ps256(m)),
                                            _mm512_castps512_ps256(s)));
  for (; x + 16 <= count; x += 16) _mm512_stream_ps(dst + x, _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(a + x), m), s));
  for (; x < count; ++x) dst[x] = normalize_float(a[x], mean, inv_std);
}

FL_AVX2 void stream_normalized_avx2(float* dst, const float* a, float mean, float inv_std, int64_t count) {
  const __m256 m = _mm256_set1_ps(mean), s = _mm256_set1_ps(inv_std);
  int64_t x = 0;
  for (; x + 8 <= count; x += 8) _mm256_stream_ps(dst + x, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(a + x), m), s));
  for (; x < count; ++x) dst[x] = normalize_float(a[x], mean, inv_std);
}
#endif

// Output row y of image n from `acc` (one plane of plane floats per channel).
template <FloatDtype D>
void store_normalized(const ResizedCropParams& p, int64_t n, int64_t y, const float* acc, int64_t plane) {
  using S = typename FloatTraits<D>::storage;
  S* out = static_cast<S*>(p.out);
  for (int64_t k = 0; k < p.c; ++k) {
    const float* a = acc + k * plane;
    const float mean = p.mean[k], inv_std = p.inv_std[k];
#if FL_HAVE_AVX2_ROWS
    if constexpr (D == FloatDtype::kFloat32) {
      S* dst = out + ((n * p.c + k) * p.out_h + y) * p.out_w;
      if (!p.channels_last && reinterpret_cast<uintptr_t>(dst) % 32 == 0 && cpu_has_avx2()) {
        (cpu_has_avx512bw_vl() ? stream_normalized_avx512 : stream_normalized_avx2)(dst, a, mean, inv_std, p.out_w);
        continue;
      }
    }
#endif
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
#if FL_HAVE_AVX2_ROWS
    _mm_sfence();  // streaming stores (stream_normalized_*) are visible to every reader before the op returns
#endif
  });
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("resized_crop_batch", &resized_crop_batch_cpu);
  m.impl("resized_crop_batch_into", &Into<kResizedCropBatchInto, &resized_crop_batch_cpu>::run);
}

}  // namespace fastload
