// fastload::_draw_crops: a batch's RandomResizedCrop boxes and RandomHorizontalFlip draws, exactly as torchvision
// draws them image after image (fastload/functional/_geometry.py's `_sample_box` + `torch.rand(1) < p`), through the
// same ATen calls on the default CPU generator, so the RNG stream and every box and flip are the same; done here
// because the Python version's dozen small torch calls per image cost more than decoding a tenth of the image.
//
// The float arithmetic follows Python's: uniform draws are float32 tensors read as doubles (`.item()`), sizes are
// `int(round(sqrt(double)))` (round half to even: nearbyint in the default rounding mode), log/exp are float32
// tensor ops as in torchvision.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <tuple>

namespace fastload {
namespace {

std::tuple<at::Tensor, at::Tensor> draw_crops(const at::Tensor& sizes, double scale_lo, double scale_hi,
                                              double ratio_lo, double ratio_hi, double flip_p) {
  const char* op = "fastload::_draw_crops";
  TORCH_CHECK(sizes.device().is_cpu() && sizes.scalar_type() == at::kLong && sizes.dim() == 2 && sizes.size(1) == 2, op,
              ": sizes must be an (N, 2) int64 CPU tensor of (h, w), got ", sizes.scalar_type(), " ", sizes.sizes());
  TORCH_CHECK(scale_lo > 0 && scale_lo <= scale_hi && ratio_lo > 0 && ratio_lo <= ratio_hi, op,
              ": scale and ratio must be (low, high) with 0 < low <= high");
  const at::Tensor hw = sizes.contiguous();
  const int64_t n = hw.size(0);
  const int64_t* s = hw.data_ptr<int64_t>();
  at::Tensor boxes = at::empty({n, 4}, at::kLong);
  at::Tensor flips = at::empty({n}, at::kBool);
  int64_t* b = boxes.data_ptr<int64_t>();
  bool* f = flips.data_ptr<bool>();
  // torchvision: log_ratio = torch.log(torch.tensor(ratio)), float32.
  const at::Tensor log_ratio = at::log(at::tensor({static_cast<float>(ratio_lo), static_cast<float>(ratio_hi)}));
  const double lr0 = log_ratio[0].item<float>(), lr1 = log_ratio[1].item<float>();
  const auto one = at::TensorOptions().dtype(at::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t height = s[2 * i], width = s[2 * i + 1];
    TORCH_CHECK(height > 0 && width > 0, op, ": image ", i, " is empty (", height, "x", width, ")");
    const double area = static_cast<double>(height * width);
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double target_area = area * at::empty({1}, one).uniform_(scale_lo, scale_hi).item<float>();
      const double aspect = at::exp(at::empty({1}, one).uniform_(lr0, lr1)).item<float>();
      const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
      const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
      if (0 < w && w <= width && 0 < h && h <= height) {
        b[4 * i] = at::randint(0, height - h + 1, {1}, at::kLong).item<int64_t>();
        b[4 * i + 1] = at::randint(0, width - w + 1, {1}, at::kLong).item<int64_t>();
        b[4 * i + 2] = h;
        b[4 * i + 3] = w;
        found = true;
      }
    }
    if (!found) {  // the central crop, clamped to the ratio range
      const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
      int64_t h = height, w = width;
      if (in_ratio < ratio_lo) {
        h = static_cast<int64_t>(std::nearbyint(static_cast<double>(width) / ratio_lo));
      } else if (in_ratio > ratio_hi) {
        w = static_cast<int64_t>(std::nearbyint(static_cast<double>(height) * ratio_hi));
      }
      b[4 * i] = (height - h) / 2;
      b[4 * i + 1] = (width - w) / 2;
      b[4 * i + 2] = h;
      b[4 * i + 3] = w;
    }
    f[i] = at::rand({1}, one).lt(flip_p).item<bool>();  // RandomHorizontalFlip: torch.rand(1) < p
  }
  return {boxes, flips};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def(
      "_draw_crops(Tensor sizes, float scale_lo, float scale_hi, float ratio_lo, float ratio_hi, float flip_p) "
      "-> (Tensor, Tensor)");
  m.impl("_draw_crops", c10::DispatchKey::CPU, &draw_crops);
}

}  // namespace fastload
