// The schemas of every fastload op, defined once for each library that implements them: `fastload` (the CPU and
// CUDA kernels) and, in an emulation build, `fastload_emulation` (the CUDA kernel sources run on the CPU).
#include "ops/schemas.h"

#include <string>

namespace fastload {

namespace {

// Defines `schema` ("name(args) -> Tensor") and its `_into` twin "name_into(args, Tensor(a!) out) -> ()", which
// writes the same result into a caller's buffer (reused across batches: no allocation, no page faults).
void def_with_into(torch::Library& m, const char* schema) {
  m.def(schema);
  const std::string s = schema;
  const size_t open = s.find('('), close = s.rfind(')');
  const std::string into = s.substr(0, open) + "_into" + s.substr(open, close - open) + ", Tensor(a!) out) -> ()";
  m.def(torch::schema(into.c_str()));
}

}  // namespace

void define_schemas(torch::Library& m) {
  // torchvision's uint8 colour adjustments per image of an (N, C, H, W) batch: steps (N, S) int64 codes (color_math.h's
  // ColorStep, -1 none) in order, factors (N, 12) float64 indexed by code, rgb the R, G, B channel indices; the _into
  // twin takes out = images to adjust in place.
  def_with_into(m, "adjust_color(Tensor images, Tensor steps, Tensor factors, int[] rgb) -> Tensor");
  // adjust_color's bytes normalized into an (N, C, H, W) float batch of dtype (output channel k: input channel
  // channel_map[k], (v - mean[k]) * inv_std[k]), in the same pass.
  def_with_into(m,
                "adjust_color_normalize(Tensor images, Tensor steps, Tensor factors, int[] rgb, float[] mean, "
                "float[] inv_std, int[] channel_map, ScalarType dtype, bool channels_last) -> Tensor");
  // RandAugment's / TrivialAugmentWide's operations per image of a uint8 (N, C, H, W) batch, S stages: kinds (N, S)
  // int64 (0 none, 1 colour, 2 warp, 3-5: 1-3 quarter turns), adjust_color's steps and factors and warp_affine's
  // matrices one row per image and stage (row i * S + k), fill, interpolation, rgb. A new contiguous batch.
  m.def(
      "augment(Tensor images, Tensor kinds, Tensor steps, Tensor factors, Tensor matrices, float[] fill, "
      "str interpolation, int[] rgb) -> Tensor");
  // (2, C) int64: row 0 the sum of every channel's values over all pixels of all images, row 1 the sum of squares.
  m.def("channel_stats(Tensor[] images, int[] flip_masks) -> Tensor");
  def_with_into(m, "denormalize(Tensor x, float[] mean, float[] std, int[] channel_map) -> Tensor");
  // timm's batch Mixup (box []) or CutMix (box [y0, y1, x0, x1]) of image i with image N - 1 - i; the _into twin
  // takes out = x to mix in place.
  def_with_into(m, "mix_pairs(Tensor x, float lam, int[] box) -> Tensor");
  // Each uint8 (N, C, H, W) image through its inverse affine matrix ((N, 6) float64 CPU, torchvision's, in pixels
  // from the centre) as torchvision's affine / rotate sample it: fill [] (zeros) or C values, "nearest" or
  // "bilinear". The _into twin's out must not overlap images.
  def_with_into(m, "warp_affine(Tensor images, Tensor matrices, float[] fill, str interpolation) -> Tensor");
  m.def(
      "normalize(Tensor img, float[] mean, float[] inv_std, int[] channel_map, int flip_mask, ScalarType dtype, "
      "bool channels_last) -> Tensor");
  // normalize's own out= form: the dtype and layout come from out.
  m.def(
      "normalize_into(Tensor img, float[] mean, float[] inv_std, int[] channel_map, int flip_mask, "
      "Tensor(a!) out) -> ()");
  // mean/inv_std None: a padded uint8 (N, Hp, Wp, C) batch in the input's channel order.
  def_with_into(m,
                "pad_batch(Tensor[] images, int[] flip_masks, int[] batch_hw, float[]? mean, float[]? inv_std, "
                "int[] channel_map, float[] pad_value, ScalarType? dtype, bool channels_last) -> Tensor");
  def_with_into(
      m,
      "pad_batch_packed(Tensor data, Tensor offsets, Tensor sizes, int channels, int[] batch_hw, float[]? mean, "
      "float[]? inv_std, int[] channel_map, float[] pad_value, ScalarType? dtype, bool channels_last) -> Tensor");
  // Crop + resize + flip (+ normalize) through per-image separable tap tables (fastload/functional/_crop_taps.py; CPU
  // tensors on every device); without mean/inv_std an (N, h, w, C) uint8 batch, rounded half to even.
  def_with_into(
      m,
      "resized_crop_batch(Tensor[] images, int[] flip_masks, Tensor y_starts, Tensor y_weights, Tensor x_starts, "
      "Tensor x_weights, float[]? mean, float[]? inv_std, int[] channel_map, ScalarType? dtype, bool channels_last) "
      "-> Tensor");
  // resized_crop_batch's uint8 crop through adjust_color_normalize's steps (no sharpness, autocontrast or equalize),
  // each crop in one pass: the normalized (N, C, h, w) batch.
  def_with_into(
      m,
      "resized_crop_color(Tensor[] images, int[] flip_masks, Tensor y_starts, Tensor y_weights, Tensor x_starts, "
      "Tensor x_weights, Tensor steps, Tensor factors, int[] rgb, float[] mean, float[] inv_std, int[] channel_map, "
      "ScalarType dtype, bool channels_last) -> Tensor");
  def_with_into(m,
                "resize_pad_batch(Tensor[] images, int[] flip_masks, int[] new_sizes, int[] batch_hw, float[] mean, "
                "float[] inv_std, int[] channel_map, float[] pad_value, str interpolation, ScalarType dtype, "
                "bool channels_last) -> Tensor");
  def_with_into(
      m,
      "resize_pad_batch_packed(Tensor data, Tensor offsets, Tensor sizes, int channels, int[] new_sizes, "
      "int[] batch_hw, float[] mean, float[] inv_std, int[] channel_map, float[] pad_value, str interpolation, "
      "ScalarType dtype, bool channels_last) -> Tensor");
}

TORCH_LIBRARY(fastload, m) { define_schemas(m); }

}  // namespace fastload
