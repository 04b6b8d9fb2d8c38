"""Training-step time through the framework (Lightning Trainer + SegModule.training_step + optimizer and schedule)
vs a bare PyTorch loop on the same network, loss, optimizer and batch, printed side by side.

    python benchmarks/bench_train_step.py                         # tiny variants, CPU, batch 2 at 128x128
    python benchmarks/bench_train_step.py --models segformer_b0 pspnet_tiny --steps 20
    python benchmarks/bench_train_step.py --full --device cuda --precision bf16 --size 512 512   # on a GPU

Target: framework <= 1.05x the bare loop, judged on the upper end of the 90% interval of the paired per-block
ratios (process CPU time on CPU: the steadier figure on a shared machine; wall clock on a GPU). Both sides copy the batch to the device every step and use the model
config's loss, optimizer and schedule; the framework side adds what a real run adds per step (per-step reseeding,
batch hooks, loss-term logging, the LR scheduler through Lightning). Step time = median over measured steps
(start of one step to start of the next), after warm-up steps; the two sides alternate in blocks (ABBA) to share noise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from _common import Figure, emit, load_avg, median_spread, ratio_interval  # noqa: E402
from prove_lightning.config import compose, instantiate  # noqa: E402
from prove_lightning.module import MEAN, STD, SegModule  # noqa: E402
from prove_lightning.optim import build_optimizer, build_scheduler  # noqa: E402

TINY = ["segformer_b0", "deeplabv3plus_tiny", "pspnet_tiny", "hrnet_tiny", "segnext_tiny", "mask2former_tiny"]
FULL = ["segformer_b3", "deeplabv3plus_r50", "pspnet_r50", "hrnet_w48", "segnext_b", "mask2former_swin_b"]


def make_batch(batch: int, size: tuple[int, int], seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    h, w = size
    label = torch.randint(0, 19, (batch, h, w), generator=g, dtype=torch.uint8)  # compact, as the dataset gives
    label[:, : h // 16] = 255
    return {
        "image": torch.randint(0, 256, (batch, 3, h, w), generator=g, dtype=torch.uint8),
        "label": label,
        "domain": ["clear_day"] * batch,
        "augment": [""] * batch,
    }


class SameBatch(Dataset):
    """Yields the same pre-collated batch (batch_size=None loader): no data-loading cost on either side."""

    def __init__(self, batch: dict[str, Any], n: int) -> None:
        self.batch, self.n = batch, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.batch


def stamp(device: str) -> tuple[float, float]:
    """(wall, process CPU) time; CPU time is the steadier figure on a shared machine."""
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter(), time.process_time()


def durations(stamps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:])]


class StepTimer(pl.Callback):
    def __init__(self, device: str) -> None:
        self.device = device
        self.stamps: list[tuple[float, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        self.stamps.append(stamp(self.device))

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001
        self.stamps.append(stamp(self.device))


def build(model: str, batch: int) -> tuple[Any, Any, Any]:
    cfg = compose("train", [f"model={model}", "model.pretrained=false", f"data.batch_size={batch}", "paths.output_root=/tmp/bench"])
    torch.manual_seed(0)
    return cfg, instantiate(cfg.model.net), instantiate(cfg.loss.fn)


def bare_steps(cfg: Any, net: torch.nn.Module, loss_fn: torch.nn.Module, batch: dict[str, Any], steps: int, device: str, bf16: bool) -> list[tuple[float, float]]:
    net.to(device).train()
    opt = build_optimizer(net, dict(cfg.model.optim), float(cfg.model.lr))
    sched = build_scheduler(opt, dict(cfg.model.scheduler), 10_000, float(cfg.model.lr))
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    clip = cfg.model.get("gradient_clip_val")
    stamps = []
    for _ in range(steps):
        stamps.append(stamp(device))
        image, label = batch["image"].to(device, non_blocking=True), batch["label"].to(device, non_blocking=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            out = net((image.float() - mean) / std)
            loss = loss_fn(out, label)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), float(clip))
        opt.step()
        sched.step()
    stamps.append(stamp(device))
    return durations(stamps)


def framework_steps(cfg: Any, net: torch.nn.Module, loss_fn: torch.nn.Module, batch: dict[str, Any], steps: int, device: str, bf16: bool) -> list[tuple[float, float]]:
    module = SegModule(net, loss_fn, optim=dict(cfg.model.optim), scheduler=dict(cfg.model.scheduler), lr=float(cfg.model.lr), max_steps=10_000, batch_hooks=[])
    timer = StepTimer(device)
    trainer = pl.Trainer(
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        max_steps=steps,
        precision="bf16-mixed" if bf16 else "32-true",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        gradient_clip_val=cfg.model.get("gradient_clip_val"),
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=DataLoader(SameBatch(batch, steps), batch_size=None))
    return durations(timer.stamps)


def compare(models: list[str], batch: int, size: tuple[int, int], steps: int, warmup: int, blocks: int, device: str, bf16: bool) -> list[dict[str, Any]]:
    """Per model: ``blocks`` alternating (bare, framework) blocks of ``warmup + steps`` steps on the same network and
    batch; per block the median step; the paired block ratios give the median ratio and its 90% interval."""
    batch_data = make_batch(batch, size)
    rows = []
    for model in models:
        cfg, net, loss_fn = build(model, batch)
        bare_blocks: list[list[tuple[float, float]]] = []
        fw_blocks: list[list[tuple[float, float]]] = []
        n = warmup + steps
        for b in range(blocks):
            first, second = (bare_steps, framework_steps) if b % 2 == 0 else (framework_steps, bare_steps)  # ABBA order
            x = first(cfg, net, loss_fn, batch_data, n, device, bf16)[warmup:]
            y = second(cfg, net, loss_fn, batch_data, n, device, bf16)[warmup:]
            bare, fw = (x, y) if first is bare_steps else (y, x)
            bare_blocks.append(bare)
            fw_blocks.append(fw)
        row: dict[str, Any] = {"model": model, "load": load_avg()}
        for i, kind in enumerate(("wall", "cpu")):
            bm = [statistics.median(t[i] for t in blk) for blk in bare_blocks]
            fm = [statistics.median(t[i] for t in blk) for blk in fw_blocks]
            row[kind] = {"bare": median_spread(bm), "framework": median_spread(fm), "ratio": ratio_interval(fm, bm)}
        rows.append(row)
        w, c = row["wall"], row["cpu"]
        print(
            f"{model:<22}{w['bare'][0] * 1e3:>10.1f}{w['framework'][0] * 1e3:>12.1f}  {w['ratio'][0]:.3f} [{w['ratio'][1]:.3f}-{w['ratio'][2]:.3f}]"
            f"   |{c['bare'][0] * 1e3:>10.1f}{c['framework'][0] * 1e3:>12.1f}  {c['ratio'][0]:.3f} [{c['ratio'][1]:.3f}-{c['ratio'][2]:.3f}]",
            flush=True,
        )
    return rows


def header() -> None:
    print(f"{'model':<22}{'bare ms':>10}{'framework':>12}  ratio [90% interval]   |{'bare ms':>10}{'framework':>12}  ratio (process CPU time)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=None, help="model config names (default: the tiny variants, or the full ones with --full)")
    ap.add_argument("--full", action="store_true", help="the full-size recipes instead of the tiny variants")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, nargs=2, default=[128, 128], metavar=("H", "W"))
    ap.add_argument("--steps", type=int, default=4, help="measured steps per block")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured steps at the start of each block")
    ap.add_argument("--blocks", type=int, default=10, help="alternating bare/framework blocks (ABBA order)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="32", choices=["32", "bf16"])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 1 on CPU, see main)")
    ap.add_argument("--smoke", action="store_true", help="one tiny model, two short blocks: checks the script runs")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.smoke:
        args.models, args.size, args.steps, args.warmup, args.blocks, args.batch = ["segformer_b0"], [32, 32], 1, 1, 2, 1
    # one thread on CPU by default: on a shared machine torch's second OpenMP thread waits for a busy core and a
    # 30 ms step takes seconds (measured here at load 10 on 2 cores); both sides run alike either way
    torch.set_num_threads(args.threads or (1 if args.device == "cpu" else torch.get_num_threads()))
    models = args.models or (FULL if args.full else TINY)
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    print(f"device={args.device} precision={args.precision} batch={args.batch} size={args.size[0]}x{args.size[1]} threads={torch.get_num_threads()} "
          f"blocks={args.blocks} x {args.steps} steps (+{args.warmup} warm-up); {load_avg()}")
    print("median per step over blocks; ratio = median of the paired per-block ratios framework / bare")
    header()
    rows = compare(models, args.batch, tuple(args.size), args.steps, args.warmup, args.blocks, args.device, args.precision == "bf16")
    judge = "cpu" if args.device == "cpu" else "wall"
    emit([
        Figure(f"framework / bare step, {r['model']} ({judge})", r[judge]["ratio"][0], "x", 1.05, "<=", judged=r[judge]["ratio"][2],
               detail=f"90% interval {r[judge]['ratio'][1]:.3f}-{r[judge]['ratio'][2]:.3f}; wall {r['wall']['ratio'][0]:.3f}")
        for r in rows
    ], args.json)


if __name__ == "__main__":
    main()
