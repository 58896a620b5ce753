// fastload::resized_crop_batch on the CPU: threads take images (or row ranges of them) one task at a time. Per
// image, each source row the vertical taps weight is summed horizontally once, into a ring of fp32 rows (planar: a
// plane of output columns per channel) that holds the ky rows the current output row reads; the vertical pass then
// sums those rows per output row in one vectorized pass and normalizes (or rounds to uint8) and stores. The
// horizontal taps (crop_columns.h) run 16 output columns at a time, their pixels picked out of a window of the
// source row in registers. The sums run in crop_math.h's order, so the result equals the reference bit for bit.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "cpu/byte_stores_avx2.h"
#include "cpu/crop_columns.h"
#include "cpu/crop_rows.h"
#include "cpu/isa.h"
#include "math/crop_math.h"
#include "memory/output.h"
#include "ops/resized_crop_batch.h"

namespace fastload {
namespace {

// A batch of fewer images than threads x kTasksPerThread is split into row ranges of at least kMinPieceRows output
// rows (each range rebuilds its column tables and re-sums up to ky source rows: a 224-row image makes 2 ranges).
constexpr int64_t kTasksPerThread = 4;
constexpr int64_t kMinPieceRows = 96;
constexpr int64_t kMaxRowTaps = 64;  // vertical taps summed in one pass; longer tables take more passes

// acc[i] = 0 + w[0] * rows[0][i] + w[1] * rows[1][i] + ... in tap order (0 + x is x's bits, -0 becoming +0, as in
// the sum), each value's sum kept in a register across the taps: one pass over acc, not one per tap.
FL_CPU_CLONES void sum_rows_portable(float* acc, const float* const* rows, const float* w, int64_t taps,
                                     int64_t count) {
  for (int64_t i = 0; i < count; ++i) acc[i] = 0.0f + w[0] * rows[0][i];
  for (int64_t k = 1; k < taps; ++k) {
    const float* __restrict row = rows[k];
    for (int64_t i = 0; i < count; ++i) acc[i] += w[k] * row[i];
  }
}

#if FL_HAVE_AVX2_ROWS
// sum_rows for count a multiple of the vector's L floats (a row's planes are whole lane groups), four vectors of
// sums in registers at a time. A macro, not a template: each copy is compiled for its own ISA (a template's vectors
// would cross calls compiled without it).
#define FL_SUM_ROWS(NAME, ISA, V, L, LOAD, SET1, MUL, ADD, STORE)                                     \
  ISA void NAME(float* acc, const float* const* rows, const float* w, int64_t taps, int64_t count) {  \
    int64_t i = 0;                                                                                    \
    for (; i + 4 * L <= count; i += 4 * L) {                                                          \
      V a[4];                                                                                         \
      for (int u = 0; u < 4; ++u) a[u] = ADD(SET1(0.0f), MUL(SET1(w[0]), LOAD(rows[0] + i + u * L))); \
      for (int64_t k = 1; k < taps; ++k)                                                              \
        for (int u = 0; u < 4; ++u) a[u] = ADD(a[u], MUL(SET1(w[k]), LOAD(rows[k] + i + u * L)));     \
      for (int u = 0; u < 4; ++u) STORE(acc + i + u * L, a[u]);                                       \
    }                                                                                                 \
    for (; i < count; i += L) {                                                                       \
      V a = ADD(SET1(0.0f), MUL(SET1(w[0]), LOAD(rows[0] + i)));                                      \
      for (int64_t k = 1; k < taps; ++k) a = ADD(a, MUL(SET1(w[k]), LOAD(rows[k] + i)));              \
      STORE(acc + i, a);                                                                              \
    }                                                                                                 \
  }
FL_SUM_ROWS(sum_rows_avx2, FL_AVX2, __m256, 8, _mm256_loadu_ps, _mm256_set1_ps, _mm256_mul_ps, _mm256_add_ps,
            _mm256_storeu_ps)
FL_SUM_ROWS(sum_rows_avx512, FL_AVX512, __m512, 16, _mm512_loadu_ps, _mm512_set1_ps, _mm512_mul_ps, _mm512_add_ps,
            _mm512_storeu_ps)
#undef FL_SUM_ROWS
#endif

// The vertical sum of one output row from its weighted source rows (count a multiple of kLanes).
void sum_rows(float* acc, const float* const* rows, const float* w, int64_t taps, int64_t count) {
#if FL_HAVE_AVX2_ROWS
  if (cpu_has_avx512bw_vl()) return sum_rows_avx512(acc, rows, w, taps, count);
  if (cpu_has_avx2()) return sum_rows_avx2(acc, rows, w, taps, count);
#endif
  sum_rows_portable(acc, rows, w, taps, count);
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
  for (; x + 16 <= count; x += 16)
    _mm512_stream_ps(dst + x, _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(a + x), m), s));
  for (; x < count; ++x) dst[x] = normalize_float(a[x], mean, inv_std);
}

FL_AVX2 void stream_normalized_avx2(float* dst, const float* a, float mean, float inv_std, int64_t count) {
  const __m256 m = _mm256_set1_ps(mean), s = _mm256_set1_ps(inv_std);
  int64_t x = 0;
  for (; x + 8 <= count; x += 8) _mm256_stream_ps(dst + x, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(a + x), m), s));
  for (; x < count; ++x) dst[x] = normalize_float(a[x], mean, inv_std);
}
#endif

// C channels of one output row from acc's C planes, normalized and rounded once to D, as interleaved pixels
// (channels_last; with C = 1 also one planar row). Plain loops the compiler vectorizes for each ISA clone
// (float_convert.h's conversions are branch-free for that).
template <FloatDtype D, int C>
FL_CPU_CLONES void normalized_pixels(typename FloatTraits<D>::storage* __restrict dst, const float* __restrict acc,
                                     int64_t plane, const float* mean, const float* inv_std, int64_t w) {
  for (int k = 0; k < C; ++k) {
    const float m = mean[k], s = inv_std[k];
    const float* __restrict a = acc + k * plane;
    for (int64_t x = 0; x < w; ++x) dst[x * C + k] = FloatTraits<D>::from_float(normalize_float(a[x], m, s));
  }
}

// The uint8 output row (interleaved pixels) from acc's C planes, rounded half to even and clamped. FL_CPU_LOOP: in
// a plain clone nearbyintf stays a library call per value (32 crops of 224, one thread: 5.2 ms against 3.3 for the
// normalized fp32 output).
template <int C>
FL_CPU_LOOP void rounded_row(uint8_t* __restrict dst, const float* __restrict acc, int64_t plane, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    for (int k = 0; k < C; ++k) {
      const float r = nearbyintf(acc[k * plane + x]);
      dst[x * C + k] = static_cast<uint8_t>(r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r));
    }
  }
}

// Output row y of image n from `acc` (one plane of plane floats per channel).
template <FloatDtype D>
void store_normalized(const ResizedCropParams& p, int64_t n, int64_t y, const float* acc, int64_t plane) {
  using S = typename FloatTraits<D>::storage;
  S* out = static_cast<S*>(p.out);
  if (p.channels_last) {
    S* dst = out + (n * p.out_h + y) * p.out_w * p.c;
    if (p.c == 3) return normalized_pixels<D, 3>(dst, acc, plane, p.mean, p.inv_std, p.out_w);
    return normalized_pixels<D, 1>(dst, acc, plane, p.mean, p.inv_std, p.out_w);
  }
  for (int64_t k = 0; k < p.c; ++k) {
    S* dst = out + ((n * p.c + k) * p.out_h + y) * p.out_w;
    const float* a = acc + k * plane;
#if FL_HAVE_AVX2_ROWS
    if constexpr (D == FloatDtype::kFloat32) {
      if (reinterpret_cast<uintptr_t>(dst) % 32 == 0 && cpu_has_avx2()) {
        (cpu_has_avx512bw_vl() ? stream_normalized_avx512 : stream_normalized_avx2)(dst, a, p.mean[k], p.inv_std[k],
                                                                                    p.out_w);
        continue;
      }
    }
#endif
    normalized_pixels<D, 1>(dst, a, plane, p.mean + k, p.inv_std + k, p.out_w);
  }
}

#if FL_HAVE_AVX2_ROWS
// rounded_row<3>, 8 pixels at a time: each plane's 8 values rounded half to even and clamped (rounded_lanes), the three
// bytes of a pixel combined into one word and the words packed into 24 bytes (GCC's vectorized stride-3 stores took 3x
// longer). Returns the pixels written (a multiple of 8).
FL_AVX2 int64_t rounded_pixels3_avx2(uint8_t* dst, const float* acc, int64_t plane, int64_t w) {
  int64_t x = 0;
  for (; x + 8 <= w; x += 8) {
    __m256i pixels = _mm256_setzero_si256();
    for (int k = 0; k < 3; ++k) {
      const __m256i values = byte_stores::rounded_lanes(_mm256_loadu_ps(acc + k * plane + x));
      pixels = _mm256_or_si256(pixels, _mm256_slli_epi32(values, 8 * k));
    }
    byte_stores::store_pixels(dst + 3 * x, 1, 3, pixels);
  }
  return x;
}
#endif

// One uint8 output row (out_w interleaved pixels at `out`) from acc's C planes.
void store_bytes(const ResizedCropParams& p, uint8_t* out, const float* acc, int64_t plane) {
  if (p.c == 1) return rounded_row<1>(out, acc, plane, p.out_w);
  int64_t done = 0;
#if FL_HAVE_AVX2_ROWS
  if (cpu_has_avx2()) done = rounded_pixels3_avx2(out, acc, plane, p.out_w);
#endif
  rounded_row<3>(out + 3 * done, acc + done, plane, p.out_w - done);
}

// values[i] rounded half up to a byte's value (ResizedCropParams::bytes_between_passes: negative weights), after
// every horizontal and vertical sum: vectorized by hand (floorf in a plain loop is a libm call per value, which made
// a bicubic crop 3x slower than its taps).
void round_to_bytes_portable(float* values, int64_t count) {
  for (int64_t i = 0; i < count; ++i) values[i] = round_to_byte(values[i]);
}

#if FL_HAVE_AVX2_ROWS
FL_AVX2 void round_to_bytes_avx2(float* values, int64_t count) {
  const __m256 half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps(), top = _mm256_set1_ps(255.0f);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 r = _mm256_floor_ps(_mm256_add_ps(_mm256_loadu_ps(values + i), half));
    _mm256_storeu_ps(values + i, _mm256_min_ps(_mm256_max_ps(r, zero), top));
  }
  round_to_bytes_portable(values + i, count - i);
}
#endif

void round_to_bytes(float* values, int64_t count) {
#if FL_HAVE_AVX2_ROWS
  if (cpu_has_avx2()) return round_to_bytes_avx2(values, count);
#endif
  round_to_bytes_portable(values, count);
}

}  // namespace

void crop_image_rows(const ResizedCropParams& p, int64_t n, int64_t y0, int64_t y1, uint8_t* bytes) {
  const int64_t* ys = p.y_starts + n * p.out_h;
  const float* wy = p.y_weights + n * p.out_h * p.ky;
  const ColumnTaps columns = column_taps(p, n);
  const int64_t plane = columns.groups * kLanes, row_values = p.c * plane;
  const RowTaps sum_row(p, p.images[n], columns, plane);
  // Source row r lives in slot r % ky once summed: an output row's ky consecutive rows never share a slot, and
  // with rows that only move down (every table fastload builds) each row is summed once per call.
  // Left uninitialized (new T[n], not make_unique's zero fill): every value is written before it is read. Not
  // make_unique_for_overwrite: C++20, and torch before 2.14 builds extensions as C++17.
  const std::unique_ptr<float[]> ring(new float[static_cast<size_t>(p.ky * row_values)]);
  const std::unique_ptr<float[]> acc(new float[static_cast<size_t>(row_values)]);
  std::vector<int64_t> ring_rows(static_cast<size_t>(p.ky), -1);
  const float* rows[kMaxRowTaps];
  float weights[kMaxRowTaps];
  for (int64_t y = y0; y < y1; ++y) {
    int64_t taps = 0;
    for (int64_t k = 0; k < p.ky; ++k) {
      const float weight = wy[y * p.ky + k];
      if (weight == 0.0f) continue;  // would add +0 to every value
      const int64_t r = ys[y] + k, slot = r % p.ky;
      float* row = ring.get() + slot * row_values;
      if (ring_rows[slot] != r) {
        sum_row(r, row);
        if (p.bytes_between_passes) round_to_bytes(row, row_values);
        ring_rows[slot] = r;
      }
      if (taps == kMaxRowTaps) {  // a very long table: fold what is summed so far into the first tap
        sum_rows(acc.get(), rows, weights, taps, row_values);
        rows[0] = acc.get();
        weights[0] = 1.0f;
        taps = 1;
      }
      rows[taps] = row;
      weights[taps++] = weight;
    }
    if (taps == 0) {
      std::fill(acc.get(), acc.get() + row_values, 0.0f);  // no weighted tap: every value is 0
    } else {
      sum_rows(acc.get(), rows, weights, taps, row_values);
      if (p.bytes_between_passes) round_to_bytes(acc.get(), row_values);
    }
    if (bytes != nullptr) {  // planes: each a plain rounding loop (the interleaving loads would cost a reader more)
      for (int64_t k = 0; k < p.c; ++k)
        rounded_row<1>(bytes + (k * p.out_h + y) * p.out_w, acc.get() + k * plane, plane, p.out_w);
    } else if (!p.normalize) {
      store_bytes(p, static_cast<uint8_t*>(p.out) + (n * p.out_h + y) * p.out_w * p.c, acc.get(), plane);
    } else {
      dispatch_float_dtype(p.dtype, [&](auto d) { store_normalized<decltype(d)::value>(p, n, y, acc.get(), plane); });
    }
  }
}

namespace {

at::Tensor resized_crop_batch_cpu(at::TensorList images, at::IntArrayRef flip_masks, const at::Tensor& y_starts,
                                  const at::Tensor& y_weights, const at::Tensor& x_starts, const at::Tensor& x_weights,
                                  std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> inv_std,
                                  at::IntArrayRef channel_map, std::optional<at::ScalarType> dtype,
                                  bool channels_last) {
  ResizedCropCall call = describe_resized_crop_batch(images, flip_masks, y_starts, y_weights, x_starts, x_weights, mean,
                                                     inv_std, channel_map, dtype, channels_last);
  ResizedCropParams& p = call.params;
  p.images = call.images.data();
  if (p.n * p.out_h * p.out_w == 0) return call.out;
  // Tasks of whole images (or, for fewer images than threads can share, of row ranges: a range that starts inside an
  // image sums the source rows of its first output row again, at most ky of them) taken one at a time by each
  // thread: images differ in cost (box sizes, downscales), and on a shared machine a thread may be descheduled.
  const int64_t threads = at::get_num_threads();
  const int64_t most = std::max<int64_t>(1, p.out_h / kMinPieceRows);
  const int64_t pieces = std::min(most, (kTasksPerThread * threads + p.n - 1) / p.n);
  const int64_t rows_per_piece = (p.out_h + pieces - 1) / pieces, tasks = p.n * pieces;
  std::atomic<int64_t> next{0};
  at::parallel_for(0, std::min(threads, tasks), 1, [&](int64_t, int64_t) {
    for (int64_t task = next++; task < tasks; task = next++) {
      const int64_t n = task / pieces, y0 = task % pieces * rows_per_piece;
      if (y0 < p.out_h) crop_image_rows(p, n, y0, std::min(p.out_h, y0 + rows_per_piece));
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
