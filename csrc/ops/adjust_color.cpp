// fastload::adjust_color: the argument checks shared by its kernels.
#include "ops/adjust_color.h"

#include <ATen/ops/empty.h>

#include <cmath>

#include "memory/output.h"
#include "ops/common.h"
#include "ops/image_inputs.h"

namespace fastload {
namespace {

// Image i's descriptor from its row of steps and factors; every factor a step uses is checked as torchvision checks
// it (non-negative blends, hue in [-0.5, 0.5], a threshold no higher than 255, posterize's bits an integer in
// [0, 8]). Sharpness reads the input's neighbours, so it can only come first; one step at most reduces over the image.
ColorImage describe_image(const char* op, int64_t i, const int64_t* steps, int64_t count, const double* f) {
  ColorImage d{};
  d.stats_at = -1;
  bool seen[kColorSteps] = {};
  for (int64_t k = 0; k < count; ++k) {
    const int64_t s = steps[k];
    if (s == -1) continue;
    TORCH_CHECK(s >= 0 && s < kColorSteps, op, ": steps[", i, ", ", k, "] = ", s,
                " is not a step (0 brightness, 1 contrast, 2 saturation, 3 hue, 4 grayscale, 5 solarize, 6 sharpness, "
                "7 posterize, 8 autocontrast, 9 equalize, 10 invert, 11 solarize_add, -1 none)");
    TORCH_CHECK(!seen[s], op, ": steps[", i, "] names step ", s, " twice");
    TORCH_CHECK(s != kSharpness || d.count == 0, op, ": steps[", i,
                "]: sharpness must be the image's first step (it reads the input's neighbourhoods)");
    seen[s] = true;
    if (s == kContrast || s == kAutocontrast || s == kEqualize) {
      TORCH_CHECK(d.stats_at < 0, op, ": steps[", i,
                  "] has more than one of contrast, autocontrast and equalize (one reduction per image and call)");
      d.stats_at = d.count;
    }
    d.steps |= static_cast<uint64_t>(s) << (4 * d.count++);
  }
  auto factor = [&](int step, const char* name) {
    const double v = f[step];
    if (seen[step]) {
      TORCH_CHECK(std::isfinite(v), op, ": the ", name, " factor of image ", i, " is not finite (", v, ")");
      if (step == kHue) {
        TORCH_CHECK(v >= -0.5 && v <= 0.5, op, ": the hue factor of image ", i, " (", v, ") is not in [-0.5, 0.5]");
      } else if (step == kSolarize) {
        TORCH_CHECK(v <= 255.0, op, ": the solarize threshold of image ", i, " (", v, ") is above 255");
      } else if (step == kSolarizeAdd) {
        TORCH_CHECK(v >= 0.0 && v <= 255.0 && v == std::floor(v), op, ": the solarize_add amount of image ", i, " (", v,
                    ") is not an integer in [0, 255]");
      } else if (step == kPosterize) {
        TORCH_CHECK(v >= 0.0 && v <= 8.0 && v == std::floor(v), op, ": the posterize bits of image ", i, " (", v,
                    ") are not an integer in [0, 8]");
      } else {
        TORCH_CHECK(v >= 0.0, op, ": the ", name, " factor of image ", i, " (", v, ") is negative");
      }
    }
    return v;
  };
  d.brightness = static_cast<float>(factor(kBrightness, "brightness"));
  const double contrast = factor(kContrast, "contrast"), saturation = factor(kSaturation, "saturation");
  d.contrast = static_cast<float>(contrast);
  d.contrast_rest = static_cast<float>(1.0 - contrast);  // torchvision's alpha=(1.0 - ratio), in double
  d.saturation = static_cast<float>(saturation);
  d.saturation_rest = static_cast<float>(1.0 - saturation);
  d.hue = static_cast<float>(factor(kHue, "hue"));
  d.solarize = static_cast<float>(factor(kSolarize, "solarize"));
  d.sharpness_rest = static_cast<float>(1.0 - factor(kSharpness, "sharpness"));
  d.solarize_add = static_cast<float>(factor(kSolarizeAdd, "solarize_add"));
  const int bits = seen[kPosterize] ? static_cast<int>(factor(kPosterize, "posterize")) : 8;
  d.posterize_mask = (0xFFu << (8 - bits)) & 0xFFu;
  return d;
}

}  // namespace

AdjustColorCall describe_color_steps(const char* op, int64_t n, int64_t c, int64_t h, int64_t w,
                                     const at::Tensor& steps, const at::Tensor& factors, at::IntArrayRef rgb) {
  TORCH_CHECK(steps.is_cpu() && steps.scalar_type() == at::kLong && steps.dim() == 2 && steps.size(0) == n &&
                  steps.size(1) <= kColorSteps,
              op, ": steps must be an (N, S) int64 CPU tensor with S <= ", kColorSteps, ", got ", steps.scalar_type(),
              " ", steps.sizes(), " on ", steps.device());
  TORCH_CHECK(factors.is_cpu() && factors.scalar_type() == at::kDouble && factors.dim() == 2 && factors.size(0) == n &&
                  factors.size(1) == kColorSteps,
              op, ": factors must be an (N, ", kColorSteps, ") float64 CPU tensor, got ", factors.scalar_type(), " ",
              factors.sizes(), " on ", factors.device());
  TORCH_CHECK(static_cast<int64_t>(rgb.size()) == (c == 3 ? 3 : 1), op, ": rgb must name ", (c == 3 ? 3 : 1),
              " channel(s), got ", rgb.size());
  AdjustColorCall call;
  AdjustColorParams& p = call.params;
  p = AdjustColorParams{};
  bool used[3] = {};
  for (size_t k = 0; k < rgb.size(); ++k) {
    TORCH_CHECK(rgb[k] >= 0 && rgb[k] < c && !used[rgb[k]], op, ": rgb must be a permutation of the channels, got ",
                rgb);
    used[rgb[k]] = true;
    p.rgb[k] = static_cast<int>(rgb[k]);
  }
  const at::Tensor s = steps.contiguous(), f = factors.contiguous();
  call.images.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    call.images.push_back(describe_image(op, i, s.data_ptr<int64_t>() + i * s.size(1), s.size(1),
                                         f.data_ptr<double>() + i * kColorSteps));
    p.stats |= call.images.back().stats_at >= 0;
    p.sharpness |= first_pointwise_step(call.images.back()) == 1;
  }
  // The statistics count pixels in 32 bits (the CPU's interleaved counts, the CUDA blocks' shared counts).
  TORCH_CHECK(!p.stats || h * w < (int64_t{1} << 31), op, ": images of 2^31 pixels or more (", h, " x ", w,
              ") cannot take contrast, autocontrast or equalize");
  p.n = n, p.c = c, p.h = h, p.w = w;
  // The CUDA kernels split their row index with 32-bit divisions and take one grid row per image for the sums.
  TORCH_CHECK(n * p.h < (int64_t{1} << 31) && n < 65536, op, ": images has too many rows (", n, " x ", p.h,
              "): N x H must stay under 2^31 and N under 65536");
  return call;
}

AdjustColorCall describe_adjust_color(const char* op, const at::Tensor& images, const at::Tensor& steps,
                                      const at::Tensor& factors, at::IntArrayRef rgb) {
  check_image_batch(op, images);
  AdjustColorCall call =
      describe_color_steps(op, images.size(0), images.size(1), images.size(2), images.size(3), steps, factors, rgb);
  call.params.in = images.data_ptr<uint8_t>();
  for (int64_t d = 0; d < 4; ++d) call.params.in_stride[d] = images.stride(d);
  return call;
}

void bind_adjust_color_output(const char* op, const at::Tensor& images, AdjustColorCall& call, const at::Tensor& out) {
  TORCH_CHECK(out.sizes() == images.sizes() && out.scalar_type() == at::kByte && out.device() == images.device(), op,
              ": out must be a uint8 tensor of shape ", images.sizes(), " on ", images.device(), ", got ",
              out.scalar_type(), " ", out.sizes(), " on ", out.device());
  for (int64_t d = 0; d < 4; ++d) TORCH_CHECK(out.stride(d) >= 0, op, ": out has a negative stride");
  check_in_place_or_apart(op, out, images, "images");  // each pixel is read and written by one thread
  TORCH_CHECK(!call.params.sharpness || out.data_ptr() != images.data_ptr() || out.numel() == 0, op,
              ": a sharpness step reads each pixel's neighbours: out must not be images");
  call.out = out;
  call.params.out = static_cast<uint8_t*>(out.data_ptr());
  for (int64_t d = 0; d < 4; ++d) call.params.out_stride[d] = out.stride(d);
}

void bind_adjust_color_normalized(const char* op, const at::TensorOptions& options, AdjustColorCall& call,
                                  at::ArrayRef<double> mean, at::ArrayRef<double> inv_std, at::IntArrayRef channel_map,
                                  at::ScalarType dtype, bool channels_last) {
  AdjustColorParams& p = call.params;
  read_normalization(op, mean, inv_std, p.c, p.mean, p.inv_std);
  int map[3];
  read_channel_map(op, channel_map, p.c, map);
  for (int64_t k = 0; k < p.c; ++k) {  // the R, G or B value (rgb's index) that output channel k reads
    for (int j = 0; j < (p.c == 3 ? 3 : 1); ++j) {
      if (p.rgb[j] == map[k]) p.norm_from[k] = j;
    }
  }
  p.dtype = to_float_dtype(op, dtype);
  p.channels_last = channels_last;
  call.out = new_batch_output(p.n, p.c, p.h, p.w, dtype, channels_last, options);
  p.norm_out = call.out.data_ptr();
  p.out = nullptr;
  for (int64_t d = 0; d < 4; ++d) p.norm_stride[d] = call.out.stride(d);
}

at::Tensor bind_sharpness_scratch(const at::Tensor& images, AdjustColorCall& call) {
  AdjustColorParams& p = call.params;
  if (p.norm_out == nullptr || !p.sharpness) return at::Tensor();
  at::Tensor scratch = at::empty({p.n, p.c, p.h, p.w}, images.options().dtype(at::kByte));
  p.out = scratch.data_ptr<uint8_t>();
  for (int64_t d = 0; d < 4; ++d) p.out_stride[d] = scratch.stride(d);
  return scratch;
}

}  // namespace fastload
