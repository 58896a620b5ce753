// The crop kernel's horizontal pass (crop_columns.h): column taps regrouped by 16 output columns, the windows their
// loops (crop_row_kernels.h, crop_row_kernels_vbmi.h) read, and the choice of loop for an image.
#include "cpu/crop_columns.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "cpu/crop_row_kernels.h"
#include "cpu/crop_row_kernels_vbmi.h"
#include "cpu/isa.h"

namespace fastload {
namespace {

// The windows of `lanes`-lane blocks of every group: block b covers lanes (b % per) * lanes ... of group b / per.
// Index bytes of tap entry e's block: per output channel, a 64-byte permute whose byte 4l picks lane l's channel
// byte (VBMI, windows of one or two 64-byte parts; picks[k]: channel k's byte in a pixel's word), or kMaxParts x 32
// shuffle bytes that give each lane the `lane_bytes` bytes at its offset (4: a pixel's word; 1: one channel plane's
// byte, zero-extended).
RowTaps::Windows make_windows(const ColumnTaps& t, const std::vector<int32_t>& offsets, int64_t lanes,
                              int64_t max_bytes, const int32_t* picks, int64_t channels, int64_t lane_bytes = 4) {
  const int64_t per = kLanes / lanes, blocks = t.groups * per;
  const bool permute = lanes == kLanes;
  RowTaps::Windows w;
  w.lo.assign(blocks, 0);
  w.parts.assign(blocks, 0);
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
        hi = std::max(hi, at + lane_bytes - 1);
      }
    if (t.taps[g] == 0 || hi - lo + 1 > max_bytes) continue;  // gathered
    const int64_t part_bytes = permute ? 64 : 16, parts = (hi - lo + part_bytes) / part_bytes;
    w.lo[blk] = lo;
    w.parts[blk] = static_cast<int32_t>(parts);
    w.reach_lo = any ? std::min(w.reach_lo, lo) : lo;
    w.reach_hi = any ? std::max(w.reach_hi, lo + parts * part_bytes) : lo + parts * part_bytes;
    any = true;
    for (int64_t j = 0; j < t.taps[g]; ++j) {
      const int64_t e = t.first[g] + j;
      uint8_t* index = w.index.data() + e * entry_bytes + (permute ? 0 : (blk % per) * kMaxParts * 32);
      if (permute) {  // byte 4l picks lane l's channel byte: one int32 a lane (bytes 4l + 1 .. 4l + 3 are masked off)
        for (int64_t k = 0; k < channels; ++k)
          for (int64_t l = 0; l < kLanes; ++l) {
            const int32_t pick = offsets[e * kLanes + l] - static_cast<int32_t>(lo) + picks[k];  // 0 .. 127
            std::memcpy(index + k * 64 + 4 * l, &pick, sizeof(pick));  // little-endian: the pick in byte 4l
          }
        continue;
      }
      for (int64_t i = 0; i < 32; ++i) {
        if (i % 4 >= lane_bytes) continue;  // 0x80: a zero byte
        const int64_t rel = offsets[e * kLanes + l0 + i / 4] - lo + i % 4;
        const int64_t p = rel / 16;
        index[p * 32 + i] = static_cast<uint8_t>(rel % 16);
      }
    }
  }
  // Windows all as wide as the widest (every block has one): each loads that many parts.
  const bool all = std::all_of(w.parts.begin(), w.parts.end(), [](int32_t parts) { return parts > 0; });
  if (all && blocks > 0) {
    w.uniform_parts = *std::max_element(w.parts.begin(), w.parts.end());
    for (int64_t blk = 0; blk < blocks; ++blk)
      w.reach_hi = std::max(w.reach_hi, w.lo[blk] + w.uniform_parts * (permute ? 64 : 16));
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
  for (int64_t k = 0; k < p.c; ++k) picks_[k] = shifts_[k] / 8;
  // Pixels of 3 adjacent bytes (any channel order, either direction): each row split into channel planes first.
  // With VBMI wherever every plane window is at most two registers (a third of the word window's pixels would fit
  // the pair; two-register permutes cost twice one-register ones on Intel cores, and the index is one per tap, not
  // one per channel). With AVX2 where every plane window is at most 3 parts (a word window is about 3x as wide),
  // and wherever the word windows are not all there (too wide: gathers).
  Windows planar;
  int32_t first = 0, last = 0;  // the lowest and highest tap entry's offsets
  if (!offsets_.empty()) {
    const auto [lowest, highest] = std::minmax_element(offsets_.begin(), offsets_.end());
    first = *lowest;
    last = *highest;
  }
  if (!offsets_.empty() && p.c == 3 && std::abs(img.stride_w) == 3 && high - low == 2) {
    std::vector<int32_t> positions(offsets_.size());  // a tap entry's pixel in memory order
    for (size_t i = 0; i < positions.size(); ++i) positions[i] = (offsets_[i] - first) / 3;
    const int32_t pick = 0;  // a plane's byte
    planar = vbmi_ ? make_windows(t, positions, kLanes, kPermuteBytes, &pick, 1, 1)
                   : make_windows(t, positions, 8, kMaxParts * 16, nullptr, 0, 1);
  }
  if (vbmi_ && planar.uniform_parts < 1) {
    windows_ = make_windows(t, offsets_, kLanes, kPermuteBytes, picks_, p.c);
    return;
  }
  if (!vbmi_ && (planar.uniform_parts < 1 || planar.uniform_parts > 3)) {
    windows_ = make_windows(t, offsets_, 8, kMaxParts * 16, nullptr, 0);
    if (planar.uniform_parts < 1 || windows_.uniform_parts > 0) return;
  }
  plane_windows_ = std::move(planar);
  plane_first_ = first;
  plane_count_ = (last - first) / 3 + 1;
  // A window's parts may read past the last pixel (never used).
  plane_stride_ = plane_count_ + (vbmi_ ? kPermuteBytes : kMaxParts * 16);
  plane_bytes_.assign(static_cast<size_t>(3 * plane_stride_), 0);
  if (vbmi_) {
    plane_split_index_vbmi(picks_, plane_split_vbmi_, plane_split_high_);
  } else {
    plane_split_index(picks_, plane_split_);
  }
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
  Row row{img_.data + at,
          img_.data + at + word_offset_,
          &t_,
          &windows_,
          offsets_.data(),
          shifts_,
          channel_offsets_,
          img_.stride_w,
          out,
          plane_,
          first_byte_ - at - word_offset_,
          last_byte_ - at - word_offset_,
          words_ && at <= last_word_row_};
  const bool three = p_.c == 3;
#if FL_HAVE_AVX2_ROWS
  if (plane_count_ > 0) {
    uint8_t* planes[3];
    for (int k = 0; k < 3; ++k) planes[k] = plane_bytes_.data() + k * plane_stride_;
    row.w = &plane_windows_;
    if (vbmi_) {
      split_planes_vbmi(row.words + plane_first_, plane_count_, plane_split_vbmi_, plane_split_high_, planes);
      return plane_windows_.uniform_parts == 1 ? row_planes_vbmi<1>(row, planes) : row_planes_vbmi<2>(row, planes);
    }
    split_planes(row.words + plane_first_, plane_count_, picks_, plane_split_, planes);
    switch (plane_windows_.uniform_parts) {
      case 1:
        return row_planes<1>(row, planes);
      case 2:
        return row_planes<2>(row, planes);
      case 3:
        return row_planes<3>(row, planes);
      case 4:
        return row_planes<4>(row, planes);
      case 5:
        return row_planes<5>(row, planes);
      default:
        return row_planes<kMaxParts>(row, planes);
    }
  }
  if (vbmi_) return three ? row_vbmi<3>(row) : row_vbmi<1>(row);
  // Shuffle windows load whole 16-byte parts: a row where one would leave the image (an image's last rows) takes
  // the byte loop.
  if (shuffles_ && windows_.reach_lo >= row.valid_lo && windows_.reach_hi <= row.valid_hi + 1)
    return three ? row_avx2<3>(row) : row_avx2<1>(row);
#endif
  return three ? row_bytes<3>(row) : row_bytes<1>(row);
}

}  // namespace fastload
