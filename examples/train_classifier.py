"""Train a small CNN on scikit-learn's handwritten digits with fastload's data pipeline, then reload it into a
model with a different head. Runs on the CPU or a GPU:

    python examples/train_classifier.py --device cpu      # ~97% test accuracy
    torchrun --nproc_per_node 2 examples/train_classifier.py --device cpu   # the same, data-parallel (DDP, gloo)

The parts a training script usually gets subtly wrong, done right:
- images are uint8 HWC (what a decoder gives); PadCollate batches them, DevicePrefetcher normalizes on the device;
- the dataset's own mean/std (compute_mean_std), in pixel units;
- labels int64 in 0..K-1 (checked by PadCollate), nn.CrossEntropyLoss on raw logits: no softmax, no one-hot;
- the loop zero_grad -> forward -> loss -> backward -> step, model.train() / model.eval() + torch.no_grad();
- an AdaptiveAvgPool2d(1) head instead of a large fully connected layer, so any input size works;
- a checkpoint saved and reloaded with load_pretrained into a model whose head has another number of classes;
- under torchrun: one process per rank, a DistributedSampler per rank (set_epoch every epoch, so each epoch is
  shuffled anew and the ranks' samples never overlap), each rank's own loader + DevicePrefetcher on its own device,
  DistributedDataParallel (gloo on the CPU, nccl on GPUs), and only rank 0 printing and saving.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

import fastload as fl


def digits_dataset(seed: int = 0):
    """scikit-learn's 8x8 digits (values 0..16) as 16x16 uint8 HWC images, split 80/20."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    images = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)[..., None]  # 16x16x1
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    split = int(0.8 * len(labels))

    def samples(idx):
        return [(images[i], int(labels[i])) for i in idx]

    return samples(order[:split]), samples(order[split:])


def make_model(num_classes: int, channels: int = 1) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(inplace=True),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, num_classes),  # logits: CrossEntropyLoss applies log-softmax itself
    )


def train_epoch(
    model: nn.Module, batches, optimizer, loss_fn, step: int, max_steps: int | None, scheduler=None
) -> tuple[int, float]:
    """One epoch (or until `max_steps` steps in all): zero_grad -> forward -> loss -> backward -> step. Returns the
    step count and the last loss."""
    model.train()
    for images, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        step += 1
        if max_steps is not None and step >= max_steps:
            break
    return step, loss.item()


def evaluate(model: nn.Module, batches) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in batches:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.numel()
    return correct / total


def distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, this rank's device): torchrun's environment, with the process group started (gloo on the
    CPU, nccl on GPUs); (0, 1, device) without torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    torch.distributed.init_process_group("nccl" if device == "cuda" else "gloo")
    if device == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return rank, world, device


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=None, help="stop early (for smoke tests)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--checkpoint", default=os.path.join(tempfile.gettempdir(), "fastload_digits.pth"))
    parser.add_argument(
        "--record",
        default=None,
        help="write each rank's training samples (per epoch) and the sums "
        "of its final parameters to RECORD.rank<N>.json (the distributed test reads them)",
    )
    args = parser.parse_args(argv)
    rank, world, device = distributed(args.device)
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    start = time.perf_counter()

    def say(text: str) -> None:
        if rank == 0:
            print(text, flush=True)

    train, test = digits_dataset()
    norm = fl.compute_mean_std([img for img, _ in train])  # this dataset's statistics, pixel units
    say(f"dataset: {len(train)} train / {len(test)} test images, {norm}" + (f", {world} ranks" if world > 1 else ""))
    collate = fl.PadCollate(label_mode="classification", num_classes=10)  # uint8 batches, labels checked 0..9
    # No pin_memory: DevicePrefetcher copies the workers' ring batches from their page-locked mapping itself.
    loader_args = dict(collate_fn=collate, num_workers=args.workers, persistent_workers=args.workers > 0)
    # drop_last: the sampler would otherwise repeat samples to even out the ranks (1,437 = 2 x 718 + 1)
    sampler = (
        DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=0, drop_last=True)
        if world > 1
        else None
    )
    train_loader = DataLoader(train, batch_size=64, shuffle=sampler is None, sampler=sampler, **loader_args)
    test_loader = DataLoader(test, batch_size=256, **loader_args)
    train_batches = fl.DevicePrefetcher(train_loader, device, norm)
    test_batches = fl.DevicePrefetcher(test_loader, device, norm)

    model = make_model(10).to(device)
    trained = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    # Cosine decay to zero: the last epochs settle instead of bouncing around at the peak learning rate.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_batches))
    loss_fn = nn.CrossEntropyLoss()
    step, seen = 0, []
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
            seen.append(list(sampler)[: (args.max_steps - step) * 64 if args.max_steps is not None else None])
        step, loss = train_epoch(trained, train_batches, optimizer, loss_fn, step, args.max_steps, scheduler)
        accuracy = evaluate(model, test_batches)
        say(f"epoch {epoch + 1}: loss {loss:.4f}, test accuracy {accuracy:.2%}")
        if args.max_steps is not None and step >= args.max_steps:
            break

    if args.record:
        # Parameters only: BatchNorm's running statistics are rank 0's, broadcast at each forward (DDP's default),
        # then updated by each rank's own batch, so after the last step they differ by that batch.
        sums = {k: float(v.detach().double().sum()) for k, v in model.named_parameters()}
        with open(f"{args.record}.rank{rank}.json", "w") as f:
            json.dump(
                {
                    "rank": rank,
                    "world": world,
                    "samples": [[int(i) for i in e] for e in seen],
                    "steps": step,
                    "weights": sums,
                },
                f,
            )
    if rank == 0:
        torch.save({"state_dict": model.state_dict(), "accuracy": accuracy}, args.checkpoint)
        # Fine-tuning on another task: same backbone, a 5-class head. The head is reported and left initialised.
        report = fl.load_pretrained(make_model(5), args.checkpoint, verbose=False)
        say(
            f"reloaded into a 5-class model: {len(report.loaded)} tensors loaded, replaced "
            f"{sorted(report.mismatched)} (shape differs)"
        )
    say(f"done in {time.perf_counter() - start:.1f} s, final test accuracy {accuracy:.2%}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
