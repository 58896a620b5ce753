// fastload::_draw_crops: a batch's RandomResizedCrop boxes and RandomHorizontalFlip draws, exactly as torchvision
// draws them image after image (fastload/functional/_geometry.py's `_sample_box` + `torch.rand(1) < p`), through the
// same ATen calls on the default CPU generator, so the RNG stream and every box and flip are the same; done here
// because the Python version's dozen small torch calls per image cost more than decoding a tenth of the image.
// fastload::_draw_crops_color adds each image's colour draws after its flip (ColorJitter, RandomGrayscale,
// GaussianBlur, RandomSolarize: fastload/data/color.py's draw_color, call for call).
//
// The float arithmetic follows Python's: uniform draws are float32 tensors read as doubles (`.item()`), sizes are
// `int(round(sqrt(double)))` (round half to even: nearbyint in the default rounding mode), log/exp are float32
// tensor ops as in torchvision.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <optional>
#include <tuple>

namespace fastload {
namespace {

// The box of one image of height x width (RandomResizedCrop.get_params) into b[0..3].
void draw_box(const char* op, int64_t i, int64_t height, int64_t width, double scale_lo, double scale_hi,
              double ratio_lo, double ratio_hi, double lr0, double lr1, int64_t* b) {
  TORCH_CHECK(height > 0 && width > 0, op, ": image ", i, " is empty (", height, "x", width, ")");
  const auto one = at::TensorOptions().dtype(at::kFloat);
  const double area = static_cast<double>(height * width);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * at::empty({1}, one).uniform_(scale_lo, scale_hi).item<float>();
    const double aspect = at::exp(at::empty({1}, one).uniform_(lr0, lr1)).item<float>();
    const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      b[0] = at::randint(0, height - h + 1, {1}, at::kLong).item<int64_t>();
      b[1] = at::randint(0, width - w + 1, {1}, at::kLong).item<int64_t>();
      b[2] = h;
      b[3] = w;
      return;
    }
  }
  // The central crop, clamped to the ratio range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t h = height, w = width;
  if (in_ratio < ratio_lo) {
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(width) / ratio_lo));
  } else if (in_ratio > ratio_hi) {
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(height) * ratio_hi));
  }
  b[0] = (height - h) / 2;
  b[1] = (width - w) / 2;
  b[2] = h;
  b[3] = w;
}

// torch.rand(1) < p, as RandomHorizontalFlip, RandomApply, RandomGrayscale and RandomSolarize draw it.
bool draw_below(double p) { return at::rand({1}, at::TensorOptions().dtype(at::kFloat)).lt(p).item<bool>(); }

struct Draws {
  at::Tensor sizes, boxes, flips;
  double lr0, lr1;
};

Draws start(const char* op, const at::Tensor& sizes, double scale_lo, double scale_hi, double ratio_lo,
            double ratio_hi) {
  TORCH_CHECK(sizes.device().is_cpu() && sizes.scalar_type() == at::kLong && sizes.dim() == 2 && sizes.size(1) == 2, op,
              ": sizes must be an (N, 2) int64 CPU tensor of (h, w), got ", sizes.scalar_type(), " ", sizes.sizes());
  TORCH_CHECK(scale_lo > 0 && scale_lo <= scale_hi && ratio_lo > 0 && ratio_hi >= ratio_lo, op,
              ": scale and ratio must be (low, high) with 0 < low <= high");
  Draws d;
  d.sizes = sizes.contiguous();
  d.boxes = at::empty({sizes.size(0), 4}, at::kLong);
  d.flips = at::empty({sizes.size(0)}, at::kBool);
  // torchvision: log_ratio = torch.log(torch.tensor(ratio)), float32.
  const at::Tensor log_ratio = at::log(at::tensor({static_cast<float>(ratio_lo), static_cast<float>(ratio_hi)}));
  d.lr0 = log_ratio[0].item<float>();
  d.lr1 = log_ratio[1].item<float>();
  return d;
}

std::tuple<at::Tensor, at::Tensor> draw_crops(const at::Tensor& sizes, double scale_lo, double scale_hi,
                                              double ratio_lo, double ratio_hi, double flip_p) {
  const char* op = "fastload::_draw_crops";
  Draws d = start(op, sizes, scale_lo, scale_hi, ratio_lo, ratio_hi);
  const int64_t* s = d.sizes.data_ptr<int64_t>();
  for (int64_t i = 0; i < d.sizes.size(0); ++i) {
    draw_box(op, i, s[2 * i], s[2 * i + 1], scale_lo, scale_hi, ratio_lo, ratio_hi, d.lr0, d.lr1,
             d.boxes.data_ptr<int64_t>() + 4 * i);
    d.flips.data_ptr<bool>()[i] = draw_below(flip_p);  // RandomHorizontalFlip: torch.rand(1) < p
  }
  return {d.boxes, d.flips};
}

// The same, each image's box and flip followed by the colour transforms' draws (fastload/data/color.py's
// draw_color): `ranges` is [] (no ColorJitter) or ColorJitter's 4 (low, high) ranges, NaN where one is not drawn;
// RandomApply draws only when its p < 1, RandomGrayscale, GaussianBlur and RandomSolarize only when their p > 0.
// The colour table is (N, 11) float64: the 4 factors (NaN: none), the order (ColorJitter's fn_idx), grayscale (0/1),
// the blur's sigma (NaN: none) and solarize (0/1). `entries`, if given, is (N, 4) float64: each entry's own scale
// (low, high), blur_p and solarize_p in place of the arguments (a multi-crop's crops of one image after another).
std::tuple<at::Tensor, at::Tensor, at::Tensor> draw_crops_color(const at::Tensor& sizes, double scale_lo,
                                                                double scale_hi, double ratio_lo, double ratio_hi,
                                                                double flip_p, at::ArrayRef<double> ranges,
                                                                double jitter_p, double grayscale_p, double blur_p,
                                                                double blur_lo, double blur_hi, double solarize_p,
                                                                const std::optional<at::Tensor>& entries) {
  const char* op = "fastload::_draw_crops_color";
  TORCH_CHECK(ranges.empty() || ranges.size() == 8, op, ": ranges must be [] or 4 (low, high) pairs");
  Draws d = start(op, sizes, scale_lo, scale_hi, ratio_lo, ratio_hi);
  const int64_t n = d.sizes.size(0);
  at::Tensor own;
  if (entries.has_value()) {
    own = entries->contiguous();
    TORCH_CHECK(own.device().is_cpu() && own.scalar_type() == at::kDouble && own.dim() == 2 && own.size(0) == n &&
                    own.size(1) == 4,
                op, ": entries must be an (N, 4) float64 CPU tensor of (scale_lo, scale_hi, blur_p, solarize_p)");
    const double* e = own.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i, e += 4) {
      TORCH_CHECK(e[0] > 0 && e[0] <= e[1] && e[2] >= 0 && e[2] <= 1 && e[3] >= 0 && e[3] <= 1, op, ": entries[", i,
                  "] must hold a scale 0 < low <= high and two probabilities");
    }
  }
  const int64_t* s = d.sizes.data_ptr<int64_t>();
  at::Tensor color = at::empty({n, 11}, at::kDouble);
  double* c = color.data_ptr<double>();
  const auto one = at::TensorOptions().dtype(at::kFloat);
  for (int64_t i = 0; i < n; ++i, c += 11) {
    if (own.defined()) {
      const double* e = own.data_ptr<double>() + 4 * i;
      scale_lo = e[0], scale_hi = e[1], blur_p = e[2], solarize_p = e[3];
    }
    draw_box(op, i, s[2 * i], s[2 * i + 1], scale_lo, scale_hi, ratio_lo, ratio_hi, d.lr0, d.lr1,
             d.boxes.data_ptr<int64_t>() + 4 * i);
    d.flips.data_ptr<bool>()[i] = draw_below(flip_p);
    for (int k = 0; k < 4; ++k) c[k] = std::nan(""), c[4 + k] = k;
    if (!ranges.empty() && (jitter_p >= 1.0 || draw_below(jitter_p))) {
      const at::Tensor order = at::randperm(4, at::kLong);  // ColorJitter: fn_idx first, then the factors
      for (int k = 0; k < 4; ++k) c[4 + k] = static_cast<double>(order[k].item<int64_t>());
      for (int k = 0; k < 4; ++k) {
        if (!std::isnan(ranges[2 * k]))
          c[k] = at::empty({1}, one).uniform_(ranges[2 * k], ranges[2 * k + 1]).item<float>();
      }
    }
    c[8] = grayscale_p > 0.0 && draw_below(grayscale_p);
    c[9] = std::nan("");
    if (blur_p > 0.0 && (blur_p >= 1.0 || draw_below(blur_p))) {  // GaussianBlur: sigma ~ U(lo, hi)
      c[9] = at::empty({1}, one).uniform_(blur_lo, blur_hi).item<float>();
    }
    c[10] = solarize_p > 0.0 && draw_below(solarize_p);
  }
  return {d.boxes, d.flips, color};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def(
      "_draw_crops(Tensor sizes, float scale_lo, float scale_hi, float ratio_lo, float ratio_hi, float flip_p) "
      "-> (Tensor, Tensor)");
  m.impl("_draw_crops", c10::DispatchKey::CPU, &draw_crops);
  m.def(
      "_draw_crops_color(Tensor sizes, float scale_lo, float scale_hi, float ratio_lo, float ratio_hi, float flip_p, "
      "float[] ranges, float jitter_p, float grayscale_p, float blur_p, float blur_lo, float blur_hi, "
      "float solarize_p, Tensor? entries=None) -> (Tensor, Tensor, Tensor)");
  m.impl("_draw_crops_color", c10::DispatchKey::CPU, &draw_crops_color);
}

}  // namespace fastload
