"""Confusion-matrix accumulation throughput: ours vs torchmetrics' JaccardIndex on the same data.

    python benchmarks/bench_confusion.py [--images 8] [--height 1024] [--width 2048] [--repeats 5]

Data: Cityscapes-sized label maps made of 32x32-pixel blocks of 19 classes with ~5% ignore (255);
predictions = labels with 10% of pixels replaced by random classes. Both counters see the same tensors,
once as int64 (what argmax and the data loader give) and once as uint8. Reported: best of --repeats, in
Mpix/s of wall-clock and of process CPU time, plus a check that all confusion matrices are identical.
Target: ours >= 250 Mpix/s.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from prove_lightning.evaluation.metrics import EXT, confusion_counts, finalize_confusion

C, IGNORE = 19, 255


def make_data(n: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    labels, preds = [], []
    for _ in range(n):
        low = rng.integers(0, C, (h // 32 + 1, w // 32 + 1), dtype=np.uint8)
        lab = np.kron(low, np.ones((32, 32), np.uint8))[:h, :w].copy()
        pred = lab.copy()
        noise = rng.random((h, w)) < 0.10
        pred[noise] = rng.integers(0, C, int(noise.sum()), dtype=np.uint8)
        lab[rng.random((h, w)) < 0.05] = IGNORE
        labels.append(lab)
        preds.append(pred)
    return torch.from_numpy(np.stack(preds)), torch.from_numpy(np.stack(labels))


def ours(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    counts = torch.zeros(EXT, EXT, dtype=torch.int64)
    for p, l in zip(preds, labels):
        confusion_counts(p, l, out=counts)  # added in place, as SegModule does per domain
    return finalize_confusion(counts, C, IGNORE)


def torchmetrics_counter(validate_args: bool):  # noqa: ANN201
    from torchmetrics.classification import MulticlassJaccardIndex

    def run(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        metric = MulticlassJaccardIndex(num_classes=C, ignore_index=IGNORE, average=None, validate_args=validate_args)
        for p, l in zip(preds, labels):
            metric.update(p, l)
        return metric.confmat.clone()

    return run


def best_time(fn, preds: torch.Tensor, labels: torch.Tensor, repeats: int) -> tuple[float, float, torch.Tensor]:  # noqa: ANN001
    """Best wall-clock and best process CPU time over ``repeats`` runs (after one warm-up run)."""
    out = fn(preds, labels)
    wall = cpu = float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn(preds, labels)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    preds8, labels8 = make_data(a.images, a.height, a.width)
    npix = preds8.numel()
    data = {"int64": (preds8.long(), labels8.long()), "uint8": (preds8, labels8)}
    counters = {
        "ours": ours,
        "torchmetrics (validate_args=True)": torchmetrics_counter(True),
        "torchmetrics (validate_args=False)": torchmetrics_counter(False),
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{a.images} images {a.height}x{a.width} ({npix / 1e6:.1f} Mpix), {(labels8 == IGNORE).float().mean() * 100:.1f}% ignore; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {load:.2f}")
    print(f"{'counter':38s} {'int64 wall':>11s} {'int64 cpu':>10s} {'uint8 wall':>11s} {'uint8 cpu':>10s}   (Mpix/s)")
    reference = None
    for name, fn in counters.items():
        cells = []
        for dtype, (p, l) in data.items():
            wall, cpu, cm = best_time(fn, p, l, a.repeats)
            cm = cm.to(torch.int64)
            if reference is None:
                reference = cm
            if not torch.equal(cm, reference):
                raise SystemExit(f"{name} on {dtype}: confusion matrix differs from ours")
            cells += [f"{npix / wall / 1e6:11.0f}", f"{npix / cpu / 1e6:10.0f}"]
        print(f"{name:38s} {' '.join(cells)}")
    print("wall = pixels / best wall-clock time; cpu = pixels / best CPU time of this process (all threads together),")
    print("which is what a single-threaded counter reaches on an idle core when the machine is shared.")
    print("all confusion matrices identical: yes")


if __name__ == "__main__":
    main()
