// The crop kernel's horizontal pass (crop_columns.h): column taps regrouped by 16 output columns, and the loops that
// sum one source row with them.
#include "cpu/crop_columns.h"

#include <algorithm>
#include <cstdlib>

#include "cpu/isa.h"

namespace fastload {
namespace {

constexpr int64_t kMaxParts = 6;  // 16-byte parts of a shuffle window (8 lanes): up to 96 bytes
constexpr int64_t kPermuteBytes = 128;  // a VBMI window: two 64-byte registers

// What one row's loops read and write.
struct Row {
  const uint8_t* bytes;  // the row's first byte (the portable loop adds channel offsets)
  const uint8_t* words;  // the row's first word (bytes + word offset): tap entry i's word is at words + offsets[i]
  const ColumnTaps* t;
  const RowTaps::Windows* w;
  const int32_t* offsets;
  const int32_t* shifts;
  const int64_t* channel_offsets;
  int64_t stride_w;
  float* out;
  int64_t plane;
  int64_t valid_lo, valid_hi;  // the image's bytes, relative to `words`
  bool gather_ok;              // every word of this row lies inside the image
};

// Lanes l0 .. l1 - 1 of group g, one byte at a time.
template <int C>
void group_bytes(const Row& r, int64_t g, int64_t l0, int64_t l1) {
  const ColumnTaps& t = *r.t;
  for (int64_t l = l0; l < l1; ++l) {
    float acc[C] = {};
    for (int64_t j = 0; j < t.taps[g]; ++j) {
      const size_t i = (t.first[g] + j) * kLanes + l;
      const uint8_t* px = r.bytes + t.columns[i] * r.stride_w;
      for (int k = 0; k < C; ++k) acc[k] += t.weights[i] * static_cast<float>(px[r.channel_offsets[k]]);
    }
    for (int k = 0; k < C; ++k) r.out[k * r.plane + g * kLanes + l] = acc[k];
  }
}

template <int C>
void row_bytes(const Row& r) {
  for (int64_t g = 0; g < r.t->groups; ++g) group_bytes<C>(r, g, 0, kLanes);
}

#if FL_HAVE_AVX2_ROWS
// acc[k] += w * (byte shifts[k] / 8 of each word), the products and sums of group_bytes.
template <int C>
FL_AVX2 inline void add_words8(__m256i words, __m256 w, const __m256i* shift, __m256* acc) {
  const __m256i byte = _mm256_set1_epi32(0xFF);
  for (int k = 0; k < C; ++k) {
    const __m256 v = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(words, shift[k]), byte));
    acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(w, v));
  }
}

// Tap entry e's 8 words of a half whose window is P 16-byte parts (broadcast in `part`): one shuffle per part,
// OR-ed (indices of bytes outside a part are 0x80, which shuffles in 0).
template <int P>
FL_AVX2 inline __m256i shuffled_words(const __m256i* part, const uint8_t* index) {
  __m256i words = _mm256_shuffle_epi8(part[0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index)));
  for (int p = 1; p < P; ++p)
    words = _mm256_or_si256(words, _mm256_shuffle_epi8(part[p], _mm256_loadu_si256(
                                                                     reinterpret_cast<const __m256i*>(index + 32 * p))));
  return words;
}

// Half `half` (8 lanes) of group g with a P-part window (P = 0: its words gathered).
template <int C, int P>
FL_AVX2 void half_parts(const Row& r, int64_t g, int64_t half) {
  const ColumnTaps& t = *r.t;
  const int64_t h = g * 2 + half;
  __m256i shift[C];
  for (int k = 0; k < C; ++k) shift[k] = _mm256_set1_epi32(r.shifts[k]);
  __m256i part[P > 0 ? P : 1];
  for (int p = 0; p < P; ++p)
    part[p] = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(r.words + r.w->lo[h] + 16 * p)));
  __m256 acc[C];
  for (int k = 0; k < C; ++k) acc[k] = _mm256_setzero_ps();
  for (int64_t j = 0; j < t.taps[g]; ++j) {
    const int64_t e = t.first[g] + j;
    __m256i words;
    if constexpr (P == 0) {
      const __m256i at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.offsets + e * kLanes + half * 8));
      words = _mm256_i32gather_epi32(reinterpret_cast<const int*>(r.words), at, 1);
    } else {
      words = shuffled_words<P>(part, r.w->index.data() + (e * 2 + half) * kMaxParts * 32);
    }
    add_words8<C>(words, _mm256_loadu_ps(t.weights.data() + e * kLanes + half * 8), shift, acc);
  }
  for (int k = 0; k < C; ++k) _mm256_storeu_ps(r.out + k * r.plane + g * kLanes + half * 8, acc[k]);
}

// Half `half` (8 lanes) of group g: its words shuffled out of the window's 16-byte parts, or gathered (a window too
// wide), or read byte by byte (a word that would pass the image's edge).
template <int C>
FL_AVX2 void half_avx2(const Row& r, int64_t g, int64_t half) {
  switch (r.w->parts[g * 2 + half]) {
    case 0: return r.gather_ok ? half_parts<C, 0>(r, g, half) : group_bytes<C>(r, g, half * 8, half * 8 + 8);
    case 1: return half_parts<C, 1>(r, g, half);
    case 2: return half_parts<C, 2>(r, g, half);
    case 3: return half_parts<C, 3>(r, g, half);
    case 4: return half_parts<C, 4>(r, g, half);
    case 5: return half_parts<C, 5>(r, g, half);
    default: return half_parts<C, kMaxParts>(r, g, half);
  }
}

// Every half with the image's widest window, P parts (halves with narrower windows shuffle zeros out of the parts
// past theirs): one loop with no per-half dispatch, whose branch on the part count mispredicts when counts mix.
template <int C, int P>
FL_AVX2 void row_parts(const Row& r) {
  for (int64_t g = 0; g < r.t->groups; ++g) {
    half_parts<C, P>(r, g, 0);
    half_parts<C, P>(r, g, 1);
  }
}

template <int C>
FL_AVX2 void row_avx2(const Row& r) {
  switch (r.w->uniform_parts) {
    case 1: return row_parts<C, 1>(r);
    case 2: return row_parts<C, 2>(r);
    case 3: return row_parts<C, 3>(r);
    case 4: return row_parts<C, 4>(r);
    case 5: return row_parts<C, 5>(r);
    case kMaxParts: return row_parts<C, kMaxParts>(r);
    default:
      for (int64_t g = 0; g < r.t->groups; ++g) {
        half_avx2<C>(r, g, 0);
        half_avx2<C>(r, g, 1);
      }
  }
}

// Bits k of a 64-byte load at `start` whose bytes start + k lie in [lo, hi].
inline uint64_t byte_mask(int64_t start, int64_t lo, int64_t hi) {
  const int64_t from = std::max<int64_t>(lo - start, 0), to = std::min<int64_t>(hi - start, 63);
  return from > to ? 0 : (~uint64_t{0} >> (63 - (to - from))) << from;
}

// Group g (16 lanes): its words permuted out of a 128-byte window (near the image's edges by masked loads: the
// bytes outside the image read as 0 and are never used), or gathered, or read byte by byte.
template <int C>
FL_AVX512_VBMI void group_vbmi(const Row& r, int64_t g) {
  const ColumnTaps& t = *r.t;
  const bool window = r.w->parts[g] != 0;
  if (!window && !r.gather_ok) return group_bytes<C>(r, g, 0, kLanes);
  const __m512i byte = _mm512_set1_epi32(0xFF);
  __m512i shift[C];
  for (int k = 0; k < C; ++k) shift[k] = _mm512_set1_epi32(r.shifts[k]);
  __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
  if (window) {
    const int64_t lo = r.w->lo[g];
    if (lo >= r.valid_lo && lo + kPermuteBytes - 1 <= r.valid_hi) {  // most rows: plain loads (masked ones are slow)
      a = _mm512_loadu_si512(r.words + lo);
      b = _mm512_loadu_si512(r.words + lo + 64);
    } else {
      a = _mm512_maskz_loadu_epi8(byte_mask(lo, r.valid_lo, r.valid_hi), r.words + lo);
      b = _mm512_maskz_loadu_epi8(byte_mask(lo + 64, r.valid_lo, r.valid_hi), r.words + lo + 64);
    }
  }
  __m512 acc[C];
  for (int k = 0; k < C; ++k) acc[k] = _mm512_setzero_ps();
  for (int64_t j = 0; j < t.taps[g]; ++j) {
    const int64_t e = t.first[g] + j;
    const __m512 w = _mm512_loadu_ps(t.weights.data() + e * kLanes);
    if (window) {  // channel k's byte of each lane's word, zero-extended by the permute itself (its mask)
      const uint8_t* index = r.w->index.data() + e * 64 * C;
      for (int k = 0; k < C; ++k) {
        const __m512i bytes = _mm512_maskz_permutex2var_epi8(
            0x1111111111111111ull, a, _mm512_loadu_si512(index + 64 * k), b);
        acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, _mm512_cvtepi32_ps(bytes)));
      }
      continue;
    }
    const __m512i words = _mm512_i32gather_epi32(_mm512_loadu_si512(r.offsets + e * kLanes), r.words, 1);
    for (int k = 0; k < C; ++k) {
      const __m512 v = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(words, shift[k]), byte));
      acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, v));
    }
  }
  for (int k = 0; k < C; ++k) _mm512_storeu_ps(r.out + k * r.plane + g * kLanes, acc[k]);
}

template <int C>
FL_AVX512_VBMI void row_vbmi(const Row& r) {
  for (int64_t g = 0; g < r.t->groups; ++g) group_vbmi<C>(r, g);
}
#endif

// The windows of `lanes`-lane blocks of every group: block b covers lanes (b % per) * lanes ... of group b / per.
// Index bytes of tap entry e's block: per output channel, a 64-byte permute whose byte 4l picks lane l's channel
// byte (VBMI, one part; `picks`: each channel's byte in a pixel's word), or kMaxParts x 32 shuffle bytes of words.
RowTaps::Windows make_windows(const ColumnTaps& t, const std::vector<int32_t>& offsets, int64_t lanes,
                              int64_t max_bytes, const std::vector<int32_t>& picks) {
  const int64_t per = kLanes / lanes, blocks = t.groups * per;
  const bool permute = lanes == kLanes;
  RowTaps::Windows w;
  w.lo.assign(blocks, 0);
  w.parts.assign(blocks, 0);
  const int64_t channels = static_cast<int64_t>(picks.size());
  const int64_t entry_bytes = permute ? 64 * channels : per * kMaxParts * 32;
  w.index.assign(static_cast<size_t>(t.first.empty() ? 0 : (t.first.back() + t.taps.back()) * entry_bytes), 0x80);
  bool any = false;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t g = blk / per, l0 = (blk % per) * lanes;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t j = 0; j < t.taps[g]; ++j)
      for (int64_t l = l0; l < l0 + lanes; ++l) {
        const int64_t at = offsets[(t.first[g] + j) * kLanes + l];
        lo = std::min(lo, at);
        hi = std::max(hi, at + 3);
      }
    if (t.taps[g] == 0 || hi - lo + 1 > max_bytes) continue;  // gathered
    const int64_t parts = permute ? 1 : (hi - lo + 16) / 16;
    w.lo[blk] = lo;
    w.parts[blk] = static_cast<int32_t>(parts);
    w.reach_lo = any ? std::min(w.reach_lo, lo) : lo;
    w.reach_hi = any ? std::max(w.reach_hi, lo + parts * 16) : lo + parts * 16;
    any = true;
    for (int64_t j = 0; j < t.taps[g]; ++j) {
      const int64_t e = t.first[g] + j;
      uint8_t* index = w.index.data() + e * entry_bytes + (permute ? 0 : (blk % per) * kMaxParts * 32);
      if (permute) {
        for (int64_t k = 0; k < channels; ++k)
          for (int64_t i = 0; i < 64; ++i)  // bytes 4l + 1 .. 4l + 3 are masked off; they repeat byte 4l's pick
            index[k * 64 + i] = static_cast<uint8_t>(offsets[e * kLanes + i / 4] - lo + picks[k]);
        continue;
      }
      for (int64_t i = 0; i < 32; ++i) {
        const int64_t rel = offsets[e * kLanes + l0 + i / 4] - lo + i % 4;
        const int64_t p = rel / 16;
        index[p * 32 + i] = static_cast<uint8_t>(rel % 16);
      }
    }
  }
  // Shuffle windows all as wide as the widest (every half has one): each loads that many parts.
  const bool all = std::all_of(w.parts.begin(), w.parts.end(), [](int32_t parts) { return parts > 0; });
  if (!permute && all && blocks > 0) {
    w.uniform_parts = *std::max_element(w.parts.begin(), w.parts.end());
    for (int64_t blk = 0; blk < blocks; ++blk) w.reach_hi = std::max(w.reach_hi, w.lo[blk] + w.uniform_parts * 16);
  }
  return w;
}

}  // namespace

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

RowTaps::RowTaps(const ResizedCropParams& p, const ImageDesc& img, const ColumnTaps& t, int64_t plane)
    : p_(p), img_(img), t_(t), plane_(plane) {
  for (int64_t k = 0; k < p.c; ++k) channel_offsets_[k] = p.channel_map[k] * img.stride_c;
  // The image's bytes, whatever the signs of its strides (a flipped view has negative ones).
  const int64_t dims[3][2] = {{img.h, img.stride_h}, {img.w, img.stride_w}, {p.c, img.stride_c}};
  for (const auto& dim : dims) {
    const int64_t span = std::max<int64_t>(dim[0] - 1, 0) * dim[1];
    (span < 0 ? first_byte_ : last_byte_) += span;
  }
#if FL_HAVE_AVX2_ROWS
  const int64_t low = *std::min_element(channel_offsets_, channel_offsets_ + p.c);
  const int64_t high = *std::max_element(channel_offsets_, channel_offsets_ + p.c);
  const int64_t reach = std::max(std::abs(t.lowest * img.stride_w), std::abs(t.highest * img.stride_w));
  if (!cpu_has_avx2() || high - low > 3 || reach >= INT32_MAX || std::abs(img.stride_w) >= INT32_MAX) return;
  words_ = true;  // a pixel's channel bytes lie in one 4-byte word starting at its lowest channel byte
  word_offset_ = low;
  for (int64_t k = 0; k < p.c; ++k) shifts_[k] = static_cast<int32_t>(8 * (channel_offsets_[k] - low));
  const int64_t far = std::max(t.lowest * img.stride_w, t.highest * img.stride_w) + low + 3;
  last_word_row_ = last_byte_ - far;
  offsets_.resize(t.columns.size());
  for (size_t i = 0; i < offsets_.size(); ++i) offsets_[i] = static_cast<int32_t>(t.columns[i] * img.stride_w);
  vbmi_ = cpu_has_avx512_vbmi();
  shuffles_ = !vbmi_;
  std::vector<int32_t> picks(static_cast<size_t>(p.c));
  for (int64_t k = 0; k < p.c; ++k) picks[k] = shifts_[k] / 8;
  windows_ = vbmi_ ? make_windows(t, offsets_, kLanes, kPermuteBytes, picks)
                   : make_windows(t, offsets_, 8, kMaxParts * 16, {});
#endif
}

void RowTaps::operator()(int64_t r, float* out) const {
  const int64_t at = r * img_.stride_h;
#if FL_HAVE_AVX2_ROWS
  // The rows an output row reads come one after another: fetch the next one's bytes while this one is summed (each
  // source row is read once, from memory; the hardware prefetcher does not see a new row coming).
  if (r + 1 < img_.h) {
    const uint8_t* next = img_.data + at + img_.stride_h;
    const int64_t a = t_.lowest * img_.stride_w, b = t_.highest * img_.stride_w;  // b < a for a flipped view
    for (int64_t off = std::min(a, b); off <= std::max(a, b) + 2; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(next + off), _MM_HINT_T0);
  }
#endif
  Row row{img_.data + at, img_.data + at + word_offset_, &t_, &windows_, offsets_.data(), shifts_, channel_offsets_,
          img_.stride_w, out, plane_, first_byte_ - at - word_offset_, last_byte_ - at - word_offset_,
          words_ && at <= last_word_row_};
  const bool three = p_.c == 3;
#if FL_HAVE_AVX2_ROWS
  if (vbmi_) return three ? row_vbmi<3>(row) : row_vbmi<1>(row);
  // Shuffle windows load whole 16-byte parts: a row where one would leave the image (an image's last rows) takes
  // the byte loop.
  if (shuffles_ && windows_.reach_lo >= row.valid_lo && windows_.reach_hi <= row.valid_hi + 1)
    return three ? row_avx2<3>(row) : row_avx2<1>(row);
#endif
  return three ? row_bytes<3>(row) : row_bytes<1>(row);
}

}  // namespace fastload
