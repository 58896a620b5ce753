// fastload::_jpeg_decode: JPEG decoding on libjpeg-turbo's libjpeg API, pixel for pixel what
// cv2.imdecode(buf, IMREAD_COLOR) gives (default libjpeg settings: ISLOW IDCT, fancy upsampling, block smoothing of
// progressive files; grayscale replicated to 3 channels; CMYK/YCCK through OpenCV's own CMYK -> BGR formula; EXIF
// orientation applied as OpenCV applies it), optionally only a box of it: the rows above are skipped
// (jpeg_skip_scanlines), the columns outside are cropped (jpeg_crop_scanline) and the rows below never decoded, so
// IDCT, upsampling and colour conversion run only where the box needs them. The region decoded is the box in the
// stored image plus margins of columns (see column_margin), which are dropped. Lossless files (no crop or skip in
// libjpeg) are decoded whole and the box copied out.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "io/jpeg.h"
#include "memory/output.h"

namespace fastload {
namespace {

// Scanlines asked of libjpeg at a time (it gives up to a row group a call) before their box columns are copied out:
// copied one at a time, each row was read back right behind libjpeg's stores to it, and the copies stalled on store
// forwarding (a tenth of a file's decode + crop in a profile). As many cropped scanlines as kScanlineBytes hold (at
// least 2), so that they stay in the L1 cache (16 rows of a 2000-pixel image were slower).
constexpr int64_t kScanlines = 16;
constexpr int64_t kScanlineBytes = 16 * 1024;

// Stored columns decoded left and right of a box, so that every box pixel is what the whole image decodes to:
// - fancy upsampling treats a cropped region's edge columns as the image's edge (1 column was not always enough for
//   4:2:0, 2 were in every case tried; a region narrower than 3 columns decodes wrong values): 8 keeps every region
//   at least 9 columns wide;
// - block smoothing of progressive files with incomplete coefficients (DC-only files, missing refinement scans,
//   truncated files read with strict=False) estimates each block from the DC values of 2 blocks on either side, and
//   a cropped region's first 2 block columns of each component see the crop's edge in place of their left
//   neighbours: a progressive file's left margin also covers 2 blocks of its widest component block.
// Rows need none: jpeg_skip_scanlines rebuilds the upsampler's context rows, smoothing reads the whole coefficient
// array, and a row read is final before the rows below it.
constexpr int64_t kColumnMargin = 8;

int64_t left_margin(const jpeg_decompress_struct& cinfo) {
  if (!cinfo.progressive_mode) return kColumnMargin;
  int64_t widest = 0;  // output columns of a component's block
  for (int c = 0; c < cinfo.num_components; ++c) {
    const jpeg_component_info& comp = cinfo.comp_info[c];
    widest = std::max<int64_t>(widest, int64_t{comp.DCT_scaled_size} * cinfo.max_h_samp_factor / comp.h_samp_factor);
  }
  return 2 * widest + kColumnMargin;
}

// A box in stored-image pixels: rows [y0, y1), columns [x0, x1).
struct Region {
  int64_t y0, y1, x0, x1;
};

// The stored region an oriented (top, left, h, w) box of an image stored H x W reads (see OpenCV's ExifTransform:
// 2 flips columns, 3 both, 4 rows; 5 transposes, 6-8 transpose then flip columns, both, rows).
Region stored_region(int orientation, int64_t H, int64_t W, int64_t top, int64_t left, int64_t h, int64_t w) {
  switch (orientation) {
    case 2:
      return {top, top + h, W - left - w, W - left};
    case 3:
      return {H - top - h, H - top, W - left - w, W - left};
    case 4:
      return {H - top - h, H - top, left, left + w};
    case 5:
      return {left, left + w, top, top + h};
    case 6:
      return {H - left - w, H - left, top, top + h};
    case 7:
      return {H - left - w, H - left, W - top - h, W - top};
    case 8:
      return {left, left + w, W - top - h, W - top};
    default:
      return {top, top + h, left, left + w};
  }
}

// What one decode writes: the box's stored pixels into `region` (3 bytes a pixel, box_w a row), or with `direct`
// (orientation 1) each scanline's box columns straight into `out`.
struct Plan {
  int64_t box_y0, box_y1;              // the box's stored rows: the rows decoded
  int64_t x0, width;                   // stored columns asked of jpeg_crop_scanline (box columns plus margins)
  int64_t box_x0, box_x1;              // the box's stored columns
  bool cmyk, gray, rgb, direct, crop;  // gray: 1 byte a decoded pixel, replicated (a lossless grayscale file)
  uint8_t* out;  // direct: the (box_y1 - box_y0) x (box_x1 - box_x0) output, row stride out_stride
  int64_t out_stride;
  uint8_t* region;  // not direct: box rows x box columns, 3 bytes a pixel
  uint8_t* rows;    // decoded scanlines: max(kScanlineBytes, two whole rows) (4 bytes a pixel for CMYK)
  bool check_end;   // the file must end with its EOI marker (checked before decoding anything)
  bool whole_file;  // libjpeg reads the whole file and its end, whatever the box (Strict::kFile)
};

// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R, channels in `rgb` order.
inline void cmyk_to_3(const uint8_t* cmyk, uint8_t* dst, int64_t n, bool rgb) {
  for (int64_t i = 0; i < n; ++i, cmyk += 4, dst += 3) {
    const int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
    const uint8_t r = static_cast<uint8_t>(k - ((255 - c) * k >> 8));
    const uint8_t g = static_cast<uint8_t>(k - ((255 - m) * k >> 8));
    const uint8_t b = static_cast<uint8_t>(k - ((255 - y) * k >> 8));
    dst[0] = rgb ? r : b;
    dst[1] = g;
    dst[2] = rgb ? b : r;
  }
}

// setjmp frame: decodes the plan's rows (output dimensions already set in d->cinfo). 0 on success, 2 when the
// file lacks its end (check_end).
int decode_rows(Decoder* d, const Plan* p) {
  jpeg_decompress_struct* cinfo = &d->cinfo;
  if (setjmp(d->err.jump)) return 1;
  if (p->check_end && !cinfo->progressive_mode && !has_end_marker(*cinfo)) return 2;
  jpeg_start_decompress(cinfo);
  JDIMENSION xoff = static_cast<JDIMENSION>(p->x0), width = static_cast<JDIMENSION>(p->width);
  if (p->crop && width < cinfo->output_width) jpeg_crop_scanline(cinfo, &xoff, &width);
  if (p->crop && p->box_y0 > 0) jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(p->box_y0));
  const int64_t bytes = p->cmyk ? 4 : p->gray ? 1 : 3;
  const int64_t skip = p->box_x0 - static_cast<int64_t>(xoff), box_w = p->box_x1 - p->box_x0;
  // Rows straight into `out` when a scanline is a box row (a lossless file read from the top: only when the box is).
  const bool scanline_is_row =
      p->direct && bytes == 3 && skip == 0 && static_cast<int64_t>(width) == box_w && (p->crop || p->box_y0 == 0);
  const int64_t row_bytes = static_cast<int64_t>(width) * bytes;                             // a cropped scanline
  const int64_t scanlines = std::clamp<int64_t>(kScanlineBytes / row_bytes, 2, kScanlines);  // they fit p->rows
  JSAMPROW rows[kScanlines];
  // Without crop and skip (a lossless file) every row from the top is read; those above the box are dropped.
  for (int64_t y = p->crop ? p->box_y0 : 0; y < p->box_y1;) {
    const int64_t n = std::min<int64_t>(scanlines, p->box_y1 - y);
    for (int64_t i = 0; i < n; ++i)
      rows[i] = scanline_is_row ? p->out + (y + i - p->box_y0) * p->out_stride : p->rows + i * row_bytes;
    const int64_t got = jpeg_read_scanlines(cinfo, rows, static_cast<JDIMENSION>(n));  // up to a row group
    if (got == 0) return 1;  // only a suspending data source (not this one) gives no rows: an error, not a loop
    for (int64_t i = 0; i < got && !scanline_is_row; ++i) {
      if (y + i < p->box_y0) continue;  // a lossless file's rows above the box: read, not kept
      uint8_t* dst =
          p->direct ? p->out + (y + i - p->box_y0) * p->out_stride : p->region + (y + i - p->box_y0) * box_w * 3;
      const uint8_t* src = rows[i] + skip * bytes;
      if (p->cmyk)
        cmyk_to_3(src, dst, box_w, p->rgb);
      else if (p->gray)
        for (int64_t x = 0; x < box_w; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
      else
        std::memcpy(dst, src, static_cast<size_t>(box_w * 3));
    }
    y += got;
  }
  if (!p->whole_file) {
    jpeg_abort_decompress(cinfo);  // the rows below the box are never decoded, the markers after them never read
    return 0;
  }
  // Strict::kFile: the rest of the file is entropy-decoded (skipped rows cost no IDCT, upsampling or colour
  // conversion) and its end read, so that libjpeg reports what a full decode would, whatever the box: the verdict on
  // a file is the whole file's. A multi-scan file (progressive) was read whole by jpeg_start_decompress.
  if (cinfo->output_scanline < cinfo->output_height && !jpeg_has_multiple_scans(cinfo)) {
    const int64_t rest = cinfo->output_height - cinfo->output_scanline;
    if (p->crop && rest > 1) jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(rest - 1));
    while (cinfo->output_scanline < cinfo->output_height) {  // the last row (all of them without skip: lossless)
      JSAMPROW row = p->rows;
      if (jpeg_read_scanlines(cinfo, &row, 1) == 0) return 1;
    }
  }
  if (cinfo->output_scanline < cinfo->output_height)
    jpeg_abort_decompress(cinfo);
  else
    jpeg_finish_decompress(cinfo);
  return 0;
}

// Output pixel (r, c) of an oriented box reads the stored region (box_h x box_w) as OpenCV's ExifTransform would.
void orient_region(const uint8_t* region, int64_t box_h, int64_t box_w, int orientation, at::Tensor& result) {
  uint8_t* o = result.data_ptr<uint8_t>();
  const int64_t rs = result.stride(0), height = result.size(0), width = result.size(1);
  for (int64_t r = 0; r < height; ++r) {
    for (int64_t c = 0; c < width; ++c) {
      int64_t sr = r, sc = c;
      switch (orientation) {
        case 2:
          sc = box_w - 1 - c;
          break;
        case 3:
          sr = box_h - 1 - r;
          sc = box_w - 1 - c;
          break;
        case 4:
          sr = box_h - 1 - r;
          break;
        case 5:
          sr = c;
          sc = r;
          break;
        case 6:
          sr = box_h - 1 - c;
          sc = r;
          break;
        case 7:
          sr = box_h - 1 - c;
          sc = box_w - 1 - r;
          break;
        case 8:
          sr = c;
          sc = box_w - 1 - r;
          break;
        default:
          break;
      }
      std::memcpy(o + r * rs + c * 3, region + (sr * box_w + sc) * 3, 3);
    }
  }
}

// `box` (top, left, height, width) checked against the oriented image without overflow (values near 2^63 must not
// wrap past the bounds); none: the whole image.
std::array<int64_t, 4> checked_box(const std::optional<at::IntArrayRef>& box, const Header& h, const char* op) {
  if (!box.has_value()) return {0, 0, h.height, h.width};
  const at::IntArrayRef b = *box;
  TORCH_CHECK_VALUE(b.size() == 4, op, ": box must be (top, left, height, width), got ", b);
  const int64_t top = b[0], left = b[1], height = b[2], width = b[3];
  TORCH_CHECK_VALUE(
      top >= 0 && left >= 0 && height >= 1 && width >= 1 && top <= h.height - height && left <= h.width - width, op,
      ": box (top=", top, ", left=", left, ", height=", height, ", width=", width,
      ") must be non-empty and lie inside the ", h.height, "x", h.width, " image");
  return {top, left, height, width};
}

at::Tensor jpeg_decode(const at::Tensor& data, at::OptionalIntArrayRef box, int64_t reduce, bool rgb,
                       int64_t strict_level, const std::optional<at::Tensor>& out) {
  const char* op = "fastload::_jpeg_decode";
  const uint8_t* bytes = jpeg_bytes(data, op);
  TORCH_CHECK_VALUE(strict_level >= 0 && strict_level <= 2, op, ": strict must be 0, 1 or 2, got ", strict_level);
  const auto strict = static_cast<Strict>(strict_level);
  Decoder d;
  const Header h = open_jpeg(&d, bytes, static_cast<size_t>(data.numel()), reduce, strict, op);
  TORCH_CHECK_VALUE(h.precision == 8, op, ": a ", h.precision,
                    "-bit JPEG file: fastload's decoder reads 8-bit "
                    "samples only");
  const auto [top, left, height, width] = checked_box(box.has_value() ? std::optional(*box) : std::nullopt, h, op);
  at::Tensor result;
  if (out.has_value()) {
    const at::Tensor& o = *out;
    TORCH_CHECK_VALUE(o.device().is_cpu() && o.scalar_type() == at::kByte && o.dim() == 3 && o.size(0) == height &&
                          o.size(1) == width && o.size(2) == 3 && o.stride(2) == 1 && o.stride(1) == 3 &&
                          o.stride(0) >= 3 * width,
                      op, ": out must be a CPU uint8 (", height, ", ", width,
                      ", 3) tensor with rows of whole "
                      "pixels, got ",
                      o.scalar_type(), " of shape ", o.sizes(), " and strides ", o.strides());
    result = o;
  } else {
    result = new_output({height, width, 3}, at::TensorOptions().dtype(at::kByte));
  }
  jpeg_decompress_struct& cinfo = d.cinfo;
  const bool cmyk = h.components == 4;
  // libjpeg converts no lossless grayscale file to colour (OpenCV's IMREAD_COLOR fails on them): fastload reads
  // the grey samples and replicates them, as libjpeg does for every other grayscale file.
  const bool gray = h.lossless && h.components == 1;
  cinfo.out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : (rgb ? JCS_EXT_RGB : JCS_EXT_BGR);
  const int64_t H = h.stored_height, W = h.stored_width;
  const Region b = stored_region(h.orientation, H, W, top, left, height, width);
  Plan p{};
  p.box_y0 = b.y0;
  p.box_y1 = b.y1;
  p.box_x0 = b.x0;
  p.box_x1 = b.x1;
  const bool whole = b.y0 == 0 && b.x0 == 0 && b.y1 == H && b.x1 == W;
  p.crop = !whole && !h.lossless;
  p.x0 = p.crop ? std::max<int64_t>(b.x0 - left_margin(cinfo), 0) : 0;
  p.width = (p.crop ? std::min<int64_t>(b.x1 + kColumnMargin, W) : W) - p.x0;
  p.cmyk = cmyk;
  p.gray = gray;
  p.rgb = rgb;
  p.direct = h.orientation == 1;
  p.out = result.data_ptr<uint8_t>();
  p.out_stride = result.stride(0);
  p.check_end = strict != Strict::kNone;
  p.whole_file = strict == Strict::kFile;
  const int64_t box_w = b.x1 - b.x0, box_h = b.y1 - b.y0;
  // Allocated here, outside decode_rows' setjmp frame: a libjpeg error unwinds past no destructor.
  std::vector<uint8_t> rows(static_cast<size_t>(std::max<int64_t>(kScanlineBytes, 2 * W * (cmyk ? 4 : 3))));
  std::vector<uint8_t> region(p.direct ? 0 : static_cast<size_t>(box_h * box_w * 3));
  p.rows = rows.data();
  p.region = region.data();
  const int status = decode_rows(&d, &p);
  if (status == 2) TORCH_CHECK_VALUE(false, "the file is truncated: no end-of-image marker after its scan data");
  if (status != 0) fail_jpeg(d, "corrupt or truncated JPEG data");
  if (!p.direct) orient_region(region.data(), box_h, box_w, h.orientation, result);
  return result;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_jpeg_decode(Tensor data, int[]? box, int reduce, bool rgb, int strict, Tensor? out=None) -> Tensor");
  m.impl("_jpeg_decode", c10::DispatchKey::CPU, &jpeg_decode);
}

}  // namespace fastload
