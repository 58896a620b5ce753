"""`fastload demo --out demo.png`: real photos through the pipeline and back, as one picture.

scikit-image's bundled photos (astronaut, chelsea, coffee, rocket, ...) are converted to BGR as a decoder gives
them, resized keeping their aspect ratio (RescaleKeepRatio), normalized and padded into one batch (pad_batch), and
turned back into images (denormalize). The PNG shows, per photo: the original, the padded model input as the
model sees it (padding included, visualised), and the round trip, which must equal the resized image bit for bit.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import fastload as fl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastload demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="demo.png", help="where to write the PNG grid (default demo.png)")
    parser.add_argument(
        "--scale",
        type=int,
        nargs=2,
        default=(512, 384),
        metavar=("W", "H"),
        help="keep-ratio bound as (w, h), default 512 384",
    )
    parser.add_argument("--device", default="cpu", help="where to build the batch (cpu or cuda)")
    args = parser.parse_args(argv)

    from fastload.photos import bundled_photos

    timings = {}
    start = time.perf_counter()
    photos = bundled_photos()
    if not photos:
        print("fastload demo: scikit-image is not installed (pip install scikit-image)", file=sys.stderr)
        return 2
    timings["load photos (BGR)"] = time.perf_counter() - start

    t = time.perf_counter()
    resize = fl.transforms.RescaleKeepRatio(tuple(args.scale))
    samples = [resize({"img": p}) for p in photos]
    timings["RescaleKeepRatio (OpenCV)"] = time.perf_counter() - t

    t = time.perf_counter()
    batch = fl.pad_batch([s["img"] for s in samples], fl.IMAGENET, size_divisor=32, device=args.device)
    timings["pad_batch (normalize + pad, one pass)"] = time.perf_counter() - t

    t = time.perf_counter()
    model_view = fl.to_numpy_images(batch.images, fl.IMAGENET, output_order="rgb")
    round_trip = fl.to_numpy_images(batch.images, fl.IMAGENET, output_order="bgr", sizes=batch.sizes)
    timings["denormalize (to uint8, padding cropped)"] = time.perf_counter() - t

    exact = all(np.array_equal(r, s["img"]) for r, s in zip(round_trip, samples))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(photos), 3, figsize=(12, 3.2 * len(photos)), squeeze=False)
    hp, wp = batch.images.shape[-2:]
    for i, (photo, s) in enumerate(zip(photos, samples)):
        h, w = batch.sizes[i].tolist()
        panels = [
            (photo[..., ::-1], f"original {photo.shape[1]}x{photo.shape[0]} (w x h)"),
            (model_view[i], f"model input {wp}x{hp}: image {w}x{h} + padding (= mean colour)"),
            (
                round_trip[i][..., ::-1],
                "round trip: " + ("identical" if np.array_equal(round_trip[i], s["img"]) else "DIFFERENT"),
            ),
        ]
        for ax, (img, title) in zip(axes[i], panels):
            ax.imshow(img)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.suptitle(f"fastload demo: {fl.IMAGENET}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(args.out, dpi=80)
    plt.close(fig)

    for step, seconds in timings.items():
        print(f"{step:<42} {seconds * 1e3:8.2f} ms")
    print(
        f"{len(photos)} photos -> batch {tuple(batch.images.shape)} {batch.images.dtype} on {batch.images.device}; "
        f"round trip {'exact' if exact else 'NOT exact'}; wrote {args.out}"
    )
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
