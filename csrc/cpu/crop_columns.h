// The horizontal pass of the CPU crop kernel (resized_crop_batch.cpp): one source row summed with an image's column
// taps, kLanes output columns at a time, into planar fp32 rows. The pixels a group of output columns reads lie in a
// short window of the source row (the group's span times the downscale, plus its taps), so instead of gathering
// each lane's pixel from memory the window is loaded once and each tap's lanes are picked out of registers: per
// channel one byte permute of one register or a pair that also zero-extends each lane's byte (AVX-512 VBMI, windows
// up to 128 bytes), or byte shuffles of 16-byte parts (AVX2, 8 lanes at a time, windows up to 96 bytes). Rows of
// 3-byte pixels are first split into channel planes, whose windows are a third as wide, whose bytes need no taking
// apart and whose taps share one index for the three planes. A group too wide for a window, or a row whose window
// would leave the image, gathers its words, or reads bytes one by one.
// Every path computes the same products and sums in the same order (crop_math.h), so the kernel equals the
// reference bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "math/crop_math.h"

namespace fastload {

constexpr int64_t kLanes = 16;  // output columns summed together

// One image's horizontal taps regrouped kLanes output columns at a time. Group g (columns g * 16 ... g * 16 + 15)
// has taps[g] taps, as many as its columns' largest count up to their last weighted tap; tap j of lane l reads
// source column columns[(first[g] + j) * 16 + l] with weight weights[same]. Padding (taps past a column's last
// weighted one, lanes past out_w) repeats a column the lane reads anyway, with weight 0: it adds +0 and reads no new
// pixel.
struct ColumnTaps {
  int64_t groups = 0;
  std::vector<int64_t> taps, first;
  std::vector<int32_t> columns;
  std::vector<float> weights;
  int64_t lowest = 0, highest = 0;  // the source columns read
};

ColumnTaps column_taps(const ResizedCropParams& p, int64_t n);

// Sums source rows of one image horizontally, on the fastest path the CPU, the SIMD cap and the image's layout allow.
class RowTaps {
 public:
  RowTaps(const ResizedCropParams& p, const ImageDesc& img, const ColumnTaps& t, int64_t plane);
  // Source row r's horizontal sums into `out` (a plane of `plane` floats per channel, output channel order).
  void operator()(int64_t r, float* out) const;

  // A window of the source row per lane group (or half group) and the byte indices that pick each tap's words.
  struct Windows {
    std::vector<int64_t> lo;     // first byte of each window, relative to a row's first word
    std::vector<int32_t> parts;  // 16-byte (shuffles) or 64-byte (VBMI) parts of each window; 0: too wide, gather
    std::vector<uint8_t> index;  // per tap entry: 64 permute indices a channel (VBMI) or kMaxParts x 32 shuffles
    int32_t uniform_parts = 0;   // > 0: every window read as this many parts (the widest)
    int64_t reach_lo = 0, reach_hi = 0;  // bytes any window reads, relative to a row's first word
  };

 private:
  const ResizedCropParams& p_;
  const ImageDesc& img_;
  const ColumnTaps& t_;
  int64_t plane_;
  int64_t channel_offsets_[kMaxChannels] = {};
  int64_t word_offset_ = 0;                 // a pixel's word starts at its lowest channel byte
  int32_t shifts_[kMaxChannels] = {};       // output channel k is byte shifts[k] / 8 of a pixel's word
  std::vector<int32_t> offsets_;            // columns * stride_w: each tap entry's word, relative to the row
  int64_t first_byte_ = 0, last_byte_ = 0;  // the image's bytes, relative to its data pointer
  int64_t last_word_row_ = -1;              // rows at byte offsets up to this one read whole words of the image
  int32_t picks_[kMaxChannels] = {};        // output channel k is byte picks_[k] of a pixel's word (shifts / 8)
  bool words_ = false, vbmi_ = false, shuffles_ = false;
  Windows windows_;
  // 3-byte pixels: each row split into channel planes (plane_count_ > 0), read through plane_windows_.
  Windows plane_windows_;
  int64_t plane_first_ = 0, plane_count_ = 0, plane_stride_ = 0;  // first pixel (relative to a row's first word)
  mutable std::vector<uint8_t> plane_bytes_;                      // the current row's planes (one RowTaps a thread)
  uint8_t plane_split_[3][3][16] = {};                            // split_planes' shuffles (plane_split_index)
  uint8_t plane_split_vbmi_[3][2][64] = {};                       // split_planes_vbmi's permutes
  uint64_t plane_split_high_[3] = {};                             // and its bytes from the third load
};

}  // namespace fastload
