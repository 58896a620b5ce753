// fastload::_crop_axis_table: one axis of resized_crop_batch's tap tables for a whole batch, on the host, the same
// bits as fastload/functional/_crop_taps.py's numpy `axis_table` (the definition; the tests compare the two): the same
// float64 and float32 operations in the same order, the weights of a tap row summed left to right.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
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

// numpy's float -> int64 cast: truncation toward zero.
int64_t truncate(double v) { return static_cast<int64_t>(v); }

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
    TORCH_CHECK(mode == "antialias", op, ": mode must be 'nearest', 'linear' or 'antialias'");
    // torch's antialiased bilinear: a triangle filter of half width max(scale, 1) around each output's centre.
    std::vector<double> centers(static_cast<size_t>(u * dst)), inv(static_cast<size_t>(u));
    std::vector<int64_t> taps(static_cast<size_t>(u * dst));
    for (int64_t i = 0; i < u; ++i) {
      const double scale = static_cast<double>(src[i]) / static_cast<double>(resized[i]);
      const double support = std::max(scale, 1.0);
      inv[i] = scale > 1.0 ? 1.0 / scale : 1.0;
      for (int64_t j = 0; j < dst; ++j) {
        const double center = scale * (static_cast<double>(offset[i] + j) + 0.5);
        const int64_t start = std::max<int64_t>(truncate(center - support + 0.5), 0);
        centers[i * dst + j] = center;
        s[i * dst + j] = start;
        taps[i * dst + j] = std::min(truncate(center + support + 0.5), src[i]) - start;
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
        for (int64_t t = 0; t < count; ++t) {
          const double x = (static_cast<double>(t + s[i * dst + j]) - centers[i * dst + j] + 0.5) * inv[i];
          row[t] = std::max(1.0 - std::abs(x), 0.0);
        }
        for (int64_t t = 0; t < count; ++t) total += row[t];
        std::fill(row_total.begin() + (i * dst + j) * k, row_total.begin() + (i * dst + j + 1) * k, total);
      }
    }
    divide(w.data(), row_total.data(), static_cast<int64_t>(w.size()));
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
