"""Training-step time through the framework (Lightning Trainer + SegModule.training_step + optimizer and schedule)
vs a bare PyTorch loop on the same network, loss, optimizer and batch, printed side by side.

    python benchmarks/bench_train_step.py                         # tiny variants, CPU, batch 2 at 128x128
    python benchmarks/bench_train_step.py --models segformer_b0 pspnet_tiny --budget-s 90
    python benchmarks/bench_train_step.py --full --device cuda --precision bf16 --size 512 512   # on a GPU

Target: framework <= 1.05x the bare loop, judged on the upper end of the 90% interval of the ratio (process CPU
time on CPU: the steadier figure on a shared machine; wall clock on a GPU).

How it is measured: the two sides are interleaved step by step (F B F B ...): a callback runs one bare step after
every framework step, so each framework step is paired with a bare step taken a few milliseconds later, under the
same machine load (on this shared 2-core VM a step's CPU time drifts by +-20% over seconds, which made separate
ABBA blocks of several steps each too noisy to decide 5%). A framework step = from one ``on_train_batch_start``
to the next (Lightning's fetch, batch transfer hook, per-step reseeding, training step, backward, gradient
clipping, optimizer, LR scheduler, logging) minus the bare step run inside it. The bare step copies the batch to
the device, normalises, runs the model config's loss, clips gradients when the model config sets
``gradient_clip_val`` (as the Trainer does: mask2former clips at 0.01), steps its own optimizer of the same kind
and its own per-step schedule. Blocks: each block is a fresh Trainer + SegModule and a fresh bare optimizer (as a
run builds them); the first ``--warmup`` pairs of a block are dropped; each model is measured for ``--budget-s``
seconds (at least ``--blocks`` blocks), so the fast networks, whose steps are the noisiest relative to their
length, get the most pairs. Ratio = median of the per-step ratios framework / bare; its 90% bootstrap interval
resamples blocks, then the pairs within them (_common.block_ratio_interval). Default run: six tiny models x 35 s, about 4-5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from _common import Figure, block_ratio_interval, emit, load_avg, median_spread  # noqa: E402
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


class BareStep:
    """One bare PyTorch training step on the network: the same copy to the device, normalisation, loss, optimizer,
    gradient clipping (the model config's ``gradient_clip_val``, as the Trainer gets it) and per-step LR schedule."""

    def __init__(self, cfg: Any, net: torch.nn.Module, loss_fn: torch.nn.Module, batch: dict[str, Any], device: str, bf16: bool) -> None:
        self.net, self.loss_fn, self.batch, self.device, self.bf16 = net, loss_fn, batch, device, bf16
        self.opt = build_optimizer(net, dict(cfg.model.optim), float(cfg.model.lr))
        self.sched = build_scheduler(self.opt, dict(cfg.model.scheduler), 10_000, float(cfg.model.lr))
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
        clip = cfg.model.get("gradient_clip_val")
        self.clip = float(clip) if clip else None

    def __call__(self) -> None:
        image = self.batch["image"].to(self.device, non_blocking=True)
        label = self.batch["label"].to(self.device, non_blocking=True)
        with torch.enable_grad(), torch.autocast(device_type=self.device, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.net((image.float() - self.mean) / self.std)
            loss = self.loss_fn(out, label)["loss"]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
        self.opt.step()
        self.sched.step()


class Interleave(pl.Callback):
    """Runs one bare step after every framework step (F B F B ...) and times both: the framework step is the time
    from one ``on_train_batch_start`` to the next (the whole loop: fetch, transfer, hooks, training step, backward,
    clipping, optimizer, scheduler, logging) minus the bare step run inside it."""

    def __init__(self, bare: BareStep, device: str) -> None:
        self.bare, self.device = bare, device
        self.starts: list[tuple[float, float]] = []
        self.bare_times: list[tuple[float, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        self.starts.append(stamp(self.device))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        t0 = stamp(self.device)
        self.bare()
        t1 = stamp(self.device)
        self.bare_times.append((t1[0] - t0[0], t1[1] - t0[1]))

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001
        self.starts.append(stamp(self.device))

    def pairs(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """(framework, bare) (wall, CPU) durations per step."""
        loop = durations(self.starts)
        return [((c[0] - b[0], c[1] - b[1]), b) for c, b in zip(loop, self.bare_times)]


def run_parts(cfg: Any, run_dir: str) -> tuple[list[pl.Callback], Any, int]:
    """What ``prove train`` adds around the step, for ``--as-run``: the divergence guard (loss and gradient-norm
    checks every step), the LR monitor, the plain progress lines and the config's loggers writing every
    ``trainer.log_every_n_steps`` steps (checkpointing and the preemption handler do no per-step work)."""
    from pytorch_lightning.callbacks import LearningRateMonitor
    from pytorch_lightning.loggers import TensorBoardLogger

    from prove_lightning.runs.divergence import DivergenceGuard
    from prove_lightning.runs.progress import PlainProgress

    div = cfg.get("divergence") or {}
    callbacks = [DivergenceGuard(run_dir, div.get("loss_spike_factor"), div.get("window", 50)), LearningRateMonitor(logging_interval="step"), PlainProgress(every_n_steps=50, to_stdout=False)]
    return callbacks, TensorBoardLogger(run_dir, name="tb", version="", default_hp_metric=False), int(cfg.trainer.log_every_n_steps)


def paired_steps(cfg: Any, net: torch.nn.Module, loss_fn: torch.nn.Module, batch: dict[str, Any], steps: int, device: str, bf16: bool, as_run: bool = False) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """One block: a fresh Trainer + SegModule (as a run builds them) and a fresh bare optimizer on the same network,
    ``steps`` framework steps each followed by a bare step; returns the (framework, bare) durations per step.
    ``as_run``: the framework side also has a run's per-step callbacks and logger (:func:`run_parts`)."""
    module = SegModule(net, loss_fn, optim=dict(cfg.model.optim), scheduler=dict(cfg.model.scheduler), lr=float(cfg.model.lr), max_steps=10_000, batch_hooks=[])
    timer = Interleave(BareStep(cfg, net, loss_fn, batch, device, bf16), device)
    with tempfile.TemporaryDirectory(prefix="bench_run_") as run_dir:
        extra, logger, every = run_parts(cfg, run_dir) if as_run else ([], False, 50)
        _fit(cfg, module, timer, extra, logger, every, batch, steps, device, bf16)
    return timer.pairs()


def _fit(cfg: Any, module: SegModule, timer: Interleave, extra: list[pl.Callback], logger: Any, every: int, batch: dict[str, Any], steps: int, device: str, bf16: bool) -> None:
    trainer = pl.Trainer(
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        max_steps=steps,
        precision="bf16-mixed" if bf16 else "32-true",
        logger=logger,
        log_every_n_steps=every,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        gradient_clip_val=cfg.model.get("gradient_clip_val"),
        callbacks=[timer, *extra],
    )
    trainer.fit(module, train_dataloaders=DataLoader(SameBatch(batch, steps), batch_size=None))


def compare(models: list[str], batch: int, size: tuple[int, int], steps: int, warmup: int, blocks: int, device: str, bf16: bool, budget_s: float | None = None, as_run: bool = False) -> list[dict[str, Any]]:
    """Per model: ``blocks`` blocks of ``warmup + steps`` interleaved (framework, bare) step pairs on the same network
    and batch; with ``budget_s``, blocks are added until the model has been measured that long (at least ``blocks``),
    so a cheap network gets more pairs: the number of pairs never depends on the figures (no stopping when they look
    good). Ratio = median of the paired per-step ratios framework / bare; its 90% interval resamples blocks, then
    the pairs within them (pairs within a block share a Trainer and a stretch of machine load)."""
    batch_data = make_batch(batch, size)
    rows = []
    for model in models:
        cfg, net, loss_fn = build(model, batch)
        blocks_pairs: list[list[tuple[tuple[float, float], tuple[float, float]]]] = []
        t0 = time.perf_counter()
        while len(blocks_pairs) < blocks or (budget_s is not None and time.perf_counter() - t0 < budget_s):
            blocks_pairs.append(paired_steps(cfg, net, loss_fn, batch_data, warmup + steps, device, bf16, as_run)[warmup:])
        row: dict[str, Any] = {"model": model, "load": load_avg(), "pairs": sum(len(p) for p in blocks_pairs)}
        for i, kind in enumerate(("wall", "cpu")):
            fw = [[f[i] for f, _ in p] for p in blocks_pairs]
            bare = [[b[i] for _, b in p] for p in blocks_pairs]
            row[kind] = {
                "bare": median_spread([x for blk in bare for x in blk]),
                "framework": median_spread([x for blk in fw for x in blk]),
                "ratio": block_ratio_interval(fw, bare),
            }
        rows.append(row)
        w, c = row["wall"], row["cpu"]
        print(
            f"{model:<22}{w['bare'][0] * 1e3:>10.1f}{w['framework'][0] * 1e3:>12.1f}  {w['ratio'][0]:.3f} [{w['ratio'][1]:.3f}-{w['ratio'][2]:.3f}]"
            f"   |{c['bare'][0] * 1e3:>10.1f}{c['framework'][0] * 1e3:>12.1f}  {c['ratio'][0]:.3f} [{c['ratio'][1]:.3f}-{c['ratio'][2]:.3f}]"
            f"{len(blocks_pairs):>7}{row['pairs']:>6}",
            flush=True,
        )
    return rows


def header() -> None:
    print(f"{'model':<22}{'bare ms':>10}{'framework':>12}  ratio [90% interval]   |{'bare ms':>10}{'framework':>12}  ratio (CPU time)  blocks pairs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=None, help="model config names (default: the tiny variants, or the full ones with --full)")
    ap.add_argument("--full", action="store_true", help="the full-size recipes instead of the tiny variants")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, nargs=2, default=[128, 128], metavar=("H", "W"))
    ap.add_argument("--steps", type=int, default=8, help="measured (framework, bare) step pairs per block")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured step pairs at the start of each block")
    ap.add_argument("--blocks", type=int, default=4, help="blocks (a fresh Trainer and bare optimizer each) of interleaved step pairs; the minimum with --budget-s")
    ap.add_argument("--budget-s", type=float, default=35.0, help="seconds of measuring per model: blocks are added until it is spent (0: exactly --blocks)")
    ap.add_argument("--as-run", action="store_true", help="framework side with a run's per-step callbacks and TensorBoard logger (divergence guard, LR monitor, progress lines)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="32", choices=["32", "bf16"])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 1 on CPU, see main)")
    ap.add_argument("--smoke", action="store_true", help="one tiny model, two short blocks: checks the script runs")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.smoke:
        args.models, args.size, args.steps, args.warmup, args.blocks, args.batch, args.budget_s = ["segformer_b0"], [32, 32], 1, 1, 2, 1, 0.0
    # one thread on CPU by default: on a shared machine torch's second OpenMP thread waits for a busy core and a
    # 30 ms step takes seconds (measured here at load 10 on 2 cores); both sides run alike either way
    torch.set_num_threads(args.threads or (1 if args.device == "cpu" else torch.get_num_threads()))
    models = args.models or (FULL if args.full else TINY)
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    print(f"{'as a run (divergence guard, LR monitor, progress, TensorBoard) ' if args.as_run else ''}device={args.device} precision={args.precision} batch={args.batch} size={args.size[0]}x{args.size[1]} threads={torch.get_num_threads()} "
          f"blocks of {args.steps} interleaved step pairs (+{args.warmup} warm-up), at least {args.blocks} and {args.budget_s:g} s per model; {load_avg()}")
    print("median per step over all pairs; ratio = median of the paired per-step ratios framework / bare; 90% interval: bootstrap over blocks, then pairs")
    header()
    rows = compare(models, args.batch, tuple(args.size), args.steps, args.warmup, args.blocks, args.device, args.precision == "bf16", args.budget_s or None, args.as_run)
    judge = "cpu" if args.device == "cpu" else "wall"
    emit([
        Figure(f"framework{' as run' if args.as_run else ''} / bare step, {r['model']} ({judge})", r[judge]["ratio"][0], "x", 1.05, "<=", judged=r[judge]["ratio"][2],
               detail=f"90% interval {r[judge]['ratio'][1]:.3f}-{r[judge]['ratio'][2]:.3f}; {r['pairs']} step pairs; wall {r['wall']['ratio'][0]:.3f}")
        for r in rows
    ], args.json)


if __name__ == "__main__":
    main()
