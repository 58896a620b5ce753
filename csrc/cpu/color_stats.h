// adjust_color's per-image statistics on the CPU (csrc/cpu/adjust_color.cpp): each plane's values counted or its
// range taken row by row, and the autocontrast / equalize table of each plane built from them.
#pragma once
#include <stdint.h>

#include "cpu/isa.h"
#include "math/color_math.h"

namespace fastload {
namespace {

// Counts of each plane's values in a row (256 per plane), in 4 interleaved sets (counts[4 * 256 * plane + 256 * set
// + value]): successive pixels of one value would otherwise wait on each other's increment.
void count_row(int64_t c, const float* planes, int64_t w, int32_t* counts) {
  for (int64_t j = 0; j < (c == 3 ? 3 : 1); ++j) {
    const float* v = planes + j * w;
    int32_t* set = counts + 4 * 256 * j;
    int64_t x = 0;
    for (; x + 4 <= w; x += 4) {
      ++set[static_cast<int32_t>(v[x])];
      ++set[256 + static_cast<int32_t>(v[x + 1])];
      ++set[512 + static_cast<int32_t>(v[x + 2])];
      ++set[768 + static_cast<int32_t>(v[x + 3])];
    }
    for (; x < w; ++x) ++set[static_cast<int32_t>(v[x])];
  }
}

// Each plane's smallest and largest value in a row folded into range[2 * plane], range[2 * plane + 1].
FL_CPU_LOOP void range_row(int64_t c, const float* planes, int64_t w, float* range) {
  for (int64_t j = 0; j < (c == 3 ? 3 : 1); ++j) {
    const float* v = planes + j * w;
    int32_t lo = static_cast<int32_t>(range[2 * j]), hi = static_cast<int32_t>(range[2 * j + 1]);
    for (int64_t x = 0; x < w; ++x) {  // as integers: float min / max reductions stay scalar without -ffast-math
      const int32_t u = static_cast<int32_t>(v[x]);
      lo = u < lo ? u : lo, hi = u > hi ? u : hi;
    }
    range[2 * j] = static_cast<float>(lo), range[2 * j + 1] = static_cast<float>(hi);
  }
}

// The autocontrast (from each plane's range) or equalize (from its counts, `pixels` values) table of each plane.
void build_tables(int step, int64_t c, const int32_t* counts, const float* range, int64_t pixels, uint8_t* lut) {
  for (int64_t j = 0; j < (c == 3 ? 3 : 1); ++j) {
    const int32_t* sets = counts + 4 * 256 * j;
    const auto count = [sets](int v) {
      return static_cast<unsigned long long>(sets[v]) + sets[256 + v] + sets[512 + v] + sets[768 + v];
    };
    int lo = static_cast<int>(range[2 * j]), hi = static_cast<int>(range[2 * j + 1]);
    if (step == kEqualize) count_range(count, lo, hi);
    color_table(step, pixels, lo, hi, count, [&](int v, uint8_t value) { lut[256 * j + v] = value; });
  }
}

}  // namespace
}  // namespace fastload
