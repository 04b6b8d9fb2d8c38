"""Confusion-matrix accumulation throughput: ours vs torchmetrics' JaccardIndex, on the dtypes the code passes.

    python benchmarks/bench_confusion.py [--images 8] [--height 512] [--width 1024] [--repeats 9] [--json out.json]

Data: 512x1024 label maps (the recipe's crop) made of 32x32-pixel blocks of 19 classes with ~5% ignore (255);
predictions = labels with 10% of pixels replaced by random classes. The dtypes are what training and eval
really hand the counter: labels uint8 from the dataset (data/dataset.py compact_label), predictions
``argmax(...).to(uint8)`` (SegModule.predict). The old path (both int64) is shown beside it. Counters run
interleaved, repeat by repeat; reported: the median (and quartiles) of the repeats, in Mpix/s of process CPU
time (the counter is single-threaded, so this is what it reaches on its core however loaded the machine) and
of wall-clock. All confusion matrices must be identical. Target: ours >= 250 Mpix/s (CPU time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _common import Figure, emit, load_avg, median_spread
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
    """What SegModule does per evaluated image: add its counts into the epoch's histogram (allocated once per
    epoch, checked once per epoch by finalize_confusion: timed apart, it is not per image)."""
    counts = torch.from_numpy(np.zeros((EXT, EXT), dtype=np.int64))
    for p, l in zip(preds, labels):
        confusion_counts(p, l, out=counts)
    return counts


def ours_cm(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return finalize_confusion(ours(preds, labels), C, IGNORE)


def torchmetrics_counter(validate_args: bool):  # noqa: ANN201
    from torchmetrics.classification import MulticlassJaccardIndex

    def run(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        metric = MulticlassJaccardIndex(num_classes=C, ignore_index=IGNORE, average=None, validate_args=validate_args)
        for p, l in zip(preds, labels):
            metric.update(p, l)
        return metric.confmat.clone()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: the counters are single-threaded)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.smoke:
        a.images, a.height, a.width, a.repeats = 2, 64, 128, 2
    preds8, labels8 = make_data(a.images, a.height, a.width)
    npix = preds8.numel()
    torch.set_num_threads(a.threads)
    runs = {
        "ours, uint8 (what train/eval pass)": (ours, preds8, labels8),
        "ours, int64 (the old path)": (ours, preds8.long(), labels8.long()),
        "torchmetrics, uint8 labels + preds (validate_args=True)": (torchmetrics_counter(True), preds8, labels8),
        "torchmetrics, uint8 labels + preds (validate_args=False)": (torchmetrics_counter(False), preds8, labels8),
    }
    print(f"{a.images} images {a.height}x{a.width} ({npix / 1e6:.1f} Mpix), {(labels8 == IGNORE).float().mean() * 100:.1f}% ignore; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; {load_avg()}")
    reference = None
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for name, (fn, p, l) in runs.items():  # warm-up and the identity check
        cm = (ours_cm(p, l) if fn is ours else fn(p, l)).to(torch.int64)
        reference = cm if reference is None else reference
        if not torch.equal(cm, reference):
            raise SystemExit(f"{name}: confusion matrix differs from ours")
    for _ in range(a.repeats):
        for name, (fn, p, l) in runs.items():
            t, c = time.perf_counter(), time.process_time()
            fn(p, l)
            wall[name].append(npix / (time.perf_counter() - t) / 1e6)
            cpu[name].append(npix / max(time.process_time() - c, 1e-9) / 1e6)
    print(f"median [quartiles] of {a.repeats} interleaved repeats, Mpix/s")
    print(f"{'counter':58s} {'CPU time':>22s} {'wall clock':>22s}")
    for name in runs:
        c, w = median_spread(cpu[name]), median_spread(wall[name])
        print(f"{name:58s} {c[0]:8.0f} [{c[1]:5.0f}-{c[2]:5.0f}]  {w[0]:8.0f} [{w[1]:5.0f}-{w[2]:5.0f}]")
    counts = ours(preds8, labels8)
    t = time.process_time()
    for _ in range(a.repeats):
        finalize_confusion(counts, C, IGNORE)
    print(f"all confusion matrices identical: yes; finalize_confusion (once per epoch): {(time.process_time() - t) / a.repeats * 1e3:.2f} ms CPU")
    ours_cpu = median_spread(cpu["ours, uint8 (what train/eval pass)"])
    tm = median_spread(cpu["torchmetrics, uint8 labels + preds (validate_args=False)"])
    emit([
        Figure("confusion counting, uint8 (CPU time)", ours_cpu[0], "Mpix/s", 250, ">=", detail=f"quartiles {ours_cpu[1]:.0f}-{ours_cpu[2]:.0f}"),
        Figure("confusion counting vs torchmetrics (no validation)", ours_cpu[0] / tm[0], "x", detail="speed-up"),
    ], a.json)


if __name__ == "__main__":
    main()
