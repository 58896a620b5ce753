// fastload::_crop_axis_table: one axis of resized_crop_batch's tap tables for a whole batch, on the host, the same
// bits as fastload/functional/_crop_taps.py's numpy `axis_table` (the definition; the tests compare the two): the same
// float64 and float32 operations in the same order, the weights of a tap row summed left to right.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "cpu/isa.h"
#include "math/resize_math.h"

namespace fastload {
namespace {

// values[i] /= by[i], vectorized per ISA clone (IEEE division: the same bits at every width).
FL_CPU_CLONES void divide(double* __restrict values, const double* __restrict by, int64_t count) {
  for (int64_t i = 0; i < count; ++i) values[i] /= by[i];
}

// Keys' cubic convolution with a = -0.5 (PIL's and torch's antialiased bicubic), in torch's (and _crop_taps.py's)
// operation order.
double keys_cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  return 0.0;
}

// numpy's float -> int64 cast: truncation toward zero.
int64_t truncate(double v) { return static_cast<int64_t>(v); }

// The filter of torch's antialiased resize of an src-long span to `resized` samples: output d's taps are source
// indices start .. start + taps - 1 around its centre, weighted filter((t - center + 0.5) * inv), normalized.
struct Filter {
  bool cubic;
  double scale, support, inv;
  Filter(bool cubic_filter, int64_t src, int64_t resized) : cubic(cubic_filter) {
    scale = static_cast<double>(src) / static_cast<double>(resized);
    support = (cubic ? 2.0 : 1.0) * std::max(scale, 1.0);  // half width 1 (triangle) or 2 (cubic), widened
    inv = scale > 1.0 ? 1.0 / scale : 1.0;
  }
  double center(int64_t d) const { return scale * (static_cast<double>(d) + 0.5); }
  int64_t start(double c) const { return std::max<int64_t>(truncate(c - support + 0.5), 0); }
  int64_t end(double c, int64_t src) const { return std::min(truncate(c + support + 0.5), src); }
  double weight(int64_t t, double c) const {
    const double x = (static_cast<double>(t) - c + 0.5) * inv;
    return cubic ? keys_cubic(x) : std::max(1.0 - std::abs(x), 0.0);
  }
};

// The largest normalized weight of all `resized` outputs (not only the crop's): what sets torch's fixed point.
double largest_weight(const Filter& f, int64_t src, int64_t resized) {
  double largest = 0.0;
  std::vector<double> row;
  for (int64_t d = 0; d < resized; ++d) {
    const double c = f.center(d);
    const int64_t start = f.start(c), count = f.end(c, src) - start;
    row.resize(static_cast<size_t>(std::max<int64_t>(count, 0)));
    double total = 0.0;
    for (int64_t t = 0; t < count; ++t) row[t] = f.weight(t + start, c);
    for (int64_t t = 0; t < count; ++t) total += row[t];
    for (int64_t t = 0; t < count; ++t) largest = std::max(largest, row[t] / total);
  }
  return largest;
}

// torch's int16 weights of its uint8 resampling, as values (_crop_taps.py's _fixed_point): each weight times 2^p
// rounded half away from zero, over 2^p, p the most bits (at most 22) that keep 2 x largest x 2^p under 2^15.
void to_fixed_point(double* w, int64_t count, double largest) {
  int bits = 0;
  while (bits < 22 && static_cast<int>(0.5 + largest * static_cast<double>(int64_t{1} << (bits + 1))) < (1 << 15))
    ++bits;
  const double one = std::ldexp(1.0, bits);
  for (int64_t i = 0; i < count; ++i) {
    const double v = w[i] * one;
    w[i] = (v < 0.0 ? std::trunc(v - 0.5) : std::trunc(v + 0.5)) / one;
  }
}

// A 1-D int64 CPU tensor of n values (flips: bool, or empty for none), read as a contiguous copy.
at::Tensor per_image(const at::Tensor& t, int64_t n, at::ScalarType type, const char* name, bool may_be_empty) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == type && t.dim() == 1 &&
                  (t.size(0) == n || (may_be_empty && t.size(0) == 0)),
              "fastload::_crop_axis_table: ", name, " must be a 1-D ", type, " CPU tensor of one value per image (", n,
              "), got ", t.scalar_type(), " of shape ", t.sizes(), " on ", t.device());
  return t.contiguous();
}

std::tuple<at::Tensor, at::Tensor> crop_axis_table(const at::Tensor& src_t, int64_t dst, const at::Tensor& resized_t,
                                                   const at::Tensor& offset_t, c10::string_view mode,
                                                   const at::Tensor& flips_t) {
  const char* op = "fastload::_crop_axis_table";
  const int64_t n = src_t.dim() == 1 ? src_t.size(0) : -1;
  TORCH_CHECK(n >= 0 && dst >= 1, op, ": src must be 1-D (one span per image) and dst >= 1, got src of shape ",
              src_t.sizes(), " and dst ", dst);
  const at::Tensor src_c = per_image(src_t, n, at::kLong, "src", false);
  const at::Tensor resized_c = per_image(resized_t, n, at::kLong, "resized", false);
  const at::Tensor offset_c = per_image(offset_t, n, at::kLong, "offset", false);
  const at::Tensor flips_c = per_image(flips_t, n, at::kBool, "flips", true);
  const int64_t* src_in = src_c.data_ptr<int64_t>();
  const int64_t* resized_in = resized_c.data_ptr<int64_t>();
  const int64_t* offset_in = offset_c.data_ptr<int64_t>();
  const bool* flips = flips_c.numel() ? flips_c.data_ptr<bool>() : nullptr;
  // Checked before anything is allocated: the values come from tensors (under torch.compile nothing else checks).
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(src_in[i] >= 1 && resized_in[i] >= 1 && offset_in[i] >= 0 && offset_in[i] <= resized_in[i] - dst, op,
                ": image ", i, " has src ", src_in[i], ", resized ", resized_in[i], ", offset ", offset_in[i],
                "; src and resized must be >= 1 and the ", dst, " outputs must lie inside the resized span");
  }
  // Images with the same span, resized length and offset share one table row set (an eval batch has a few image
  // sizes, not one per image): each is computed once, for the first image that has it, and copied.
  std::vector<int64_t> first_of, which(static_cast<size_t>(n));
  std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> seen;
  for (int64_t i = 0; i < n; ++i) {
    const auto [at, inserted] = seen.try_emplace({src_in[i], resized_in[i], offset_in[i]}, first_of.size());
    if (inserted) first_of.push_back(i);
    which[i] = at->second;
  }
  const int64_t u = static_cast<int64_t>(first_of.size());
  std::vector<int64_t> src(u), resized(u), offset(u), s(static_cast<size_t>(u * dst));
  for (int64_t i = 0; i < u; ++i) {
    src[i] = src_in[first_of[i]];
    resized[i] = resized_in[first_of[i]];
    offset[i] = offset_in[first_of[i]];
  }
  std::vector<double> w;  // (u, dst, k) in float64, rounded to float32 once at the end
  int64_t k = 1;
  if (mode == "nearest") {
    w.assign(static_cast<size_t>(u * dst), 1.0);
    for (int64_t i = 0; i < u; ++i) {
      const float scale = static_cast<float>(src[i]) / static_cast<float>(resized[i]);
      for (int64_t j = 0; j < dst; ++j) {
        const float pos = std::floor(static_cast<float>(offset[i] + j) * scale);
        s[i * dst + j] = std::min(static_cast<int64_t>(pos), src[i] - 1);
      }
    }
  } else if (mode == "linear") {
    k = 2;
    w.resize(static_cast<size_t>(u * dst * 2));
    for (int64_t i = 0; i < u; ++i) {
      const double step = 1.0 / (static_cast<double>(resized[i]) / static_cast<double>(src[i]));
      for (int64_t j = 0; j < dst; ++j) {
        const LinearTap tap = linear_tap(offset[i] + j, step, src[i]);  // resize_pad_batch's coordinates
        s[i * dst + j] = tap.i0;
        w[(i * dst + j) * 2] = 1.0 - static_cast<double>(tap.frac);
        w[(i * dst + j) * 2 + 1] = tap.frac;
      }
    }
  } else {
    TORCH_CHECK(mode == "antialias" || mode == "bicubic", op,
                ": mode must be 'nearest', 'linear', 'antialias' or 'bicubic', got '", std::string(mode), "'");
    // torch's antialiased bilinear and bicubic: a triangle (half width 1) or Keys' cubic (half width 2) filter
    // around each output's centre, widened by the factor when downscaling.
    const bool cubic = mode == "bicubic";
    std::vector<Filter> filters;
    std::vector<double> centers(static_cast<size_t>(u * dst));
    std::vector<int64_t> taps(static_cast<size_t>(u * dst));
    for (int64_t i = 0; i < u; ++i) {
      const Filter& f = filters.emplace_back(cubic, src[i], resized[i]);
      for (int64_t j = 0; j < dst; ++j) {
        const double center = f.center(offset[i] + j);
        centers[i * dst + j] = center;
        s[i * dst + j] = f.start(center);
        taps[i * dst + j] = f.end(center, src[i]) - s[i * dst + j];
        k = std::max(k, taps[i * dst + j]);
      }
    }
    w.assign(static_cast<size_t>(u * dst * k), 0.0);
    // Each row's weights over their total. The division is most of the table's time: done in one flat loop over
    // every weight the compiler vectorizes (the zeros after a row's taps stay 0, and its sum stops at its taps: the
    // zeros would add +0).
    std::vector<double> row_total(w.size());  // each weight's row total
    for (int64_t i = 0; i < u; ++i) {
      for (int64_t j = 0; j < dst; ++j) {
        double* row = w.data() + (i * dst + j) * k;
        const int64_t count = taps[i * dst + j];
        double total = 0.0;
        for (int64_t t = 0; t < count; ++t) row[t] = filters[i].weight(t + s[i * dst + j], centers[i * dst + j]);
        for (int64_t t = 0; t < count; ++t) total += row[t];
        std::fill(row_total.begin() + (i * dst + j) * k, row_total.begin() + (i * dst + j + 1) * k, total);
      }
    }
    divide(w.data(), row_total.data(), static_cast<int64_t>(w.size()));
    if (cubic) {  // torch's uint8 weights: fixed point, the precision set by the largest weight of the whole axis
      for (int64_t i = 0; i < u; ++i)
        to_fixed_point(w.data() + i * dst * k, dst * k, largest_weight(filters[i], src[i], resized[i]));
    }
  }
  at::Tensor starts = at::empty({n, dst}, at::kLong), weights = at::empty({n, dst, k}, at::kFloat);
  int64_t* starts_out = starts.data_ptr<int64_t>();
  float* out = weights.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    const bool flip = flips != nullptr && flips[i];  // a horizontal flip after the crop: outputs reversed
    const int64_t from_row = which[i] * dst;
    for (int64_t j = 0; j < dst; ++j) {
      const int64_t at = from_row + (flip ? dst - 1 - j : j);
      starts_out[i * dst + j] = s[at];
      for (int64_t t = 0; t < k; ++t) out[(i * dst + j) * k + t] = static_cast<float>(w[at * k + t]);
    }
  }
  return {starts, weights};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def(
      "_crop_axis_table(Tensor src, int dst, Tensor resized, Tensor offset, str mode, Tensor flips) -> "
      "(Tensor, Tensor)");
  m.impl("_crop_axis_table", c10::DispatchKey::CPU, &crop_axis_table);
}

}  // namespace fastload
