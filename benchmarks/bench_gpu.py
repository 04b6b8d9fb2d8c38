"""GPU training throughput of the full models: precision / memory-format / compile variants, the framework
(Lightning Trainer + SegModule) vs a bare PyTorch loop, images/s, peak memory, and DDP scaling.

    python benchmarks/bench_gpu.py                                 # 5 full models, 512x512, batch 8, one GPU
    python benchmarks/bench_gpu.py --models segformer_b3 --devices 2   # + DDP scaling efficiency on 2 GPUs
    python benchmarks/bench_gpu.py --smoke [--devices 2]           # tiny models and sizes on CPU: does it run?

Variants per model: fp32, bf16-mixed (autocast), bf16-mixed + channels_last, and the last + torch.compile
(reported as failed with the error's first line where compile does not work for the model). Step time =
median over measured steps after warm-up, with the spread (min-max); images/s = batch / median step time;
peak memory = torch.cuda.max_memory_allocated during the variant's framework run (CPU: not measured).
Targets: framework <= 1.05x the bare loop; DDP scaling efficiency (images/s on N devices / (N x 1 device),
same per-device batch) >= 0.9. On CPU (--smoke) the figures only show the script works.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from bench_train_step import SameBatch, StepTimer, build, durations, make_batch, stamp  # noqa: E402
from prove_lightning.module import MEAN, STD, SegModule  # noqa: E402
from prove_lightning.optim import build_optimizer, build_scheduler  # noqa: E402

FULL = ["segformer_b3", "deeplabv3plus_r50", "pspnet_r50", "segnext_b", "mask2former_swin_b"]
SMOKE = ["segformer_b0", "pspnet_tiny"]
VARIANTS = {  # name: (bf16 autocast, channels_last, torch.compile)
    "fp32": (False, False, False),
    "bf16-mixed": (True, False, False),
    "bf16+channels_last": (True, True, False),
    "bf16+cl+compile": (True, True, True),
}


def prepare(net: torch.nn.Module, channels_last: bool, compile_: bool) -> torch.nn.Module:
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return torch.compile(net) if compile_ else net


def bare(cfg: Any, net: torch.nn.Module, loss_fn: torch.nn.Module, batch: dict[str, Any], steps: int, device: str, bf16: bool, cl: bool) -> list[float]:
    net.to(device).train()
    opt = build_optimizer(net, dict(cfg.model.optim), float(cfg.model.lr))
    sched = build_scheduler(opt, dict(cfg.model.scheduler), 10_000, float(cfg.model.lr))
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    stamps = []
    for _ in range(steps):
        stamps.append(stamp(device))
        image, label = batch["image"].to(device, non_blocking=True), batch["label"].to(device, non_blocking=True)
        x = (image.float() - mean) / std
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(net(x), label)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    stamps.append(stamp(device))
    return [d[0] for d in durations(stamps)]


class RankZeroTimes(StepTimer):
    """StepTimer whose rank 0 writes its step times to a file (the DDP run's processes are not this one)."""

    def __init__(self, device: str, path: str) -> None:
        super().__init__(device)
        self.path = path

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001
        super().on_train_end(trainer, pl_module)
        if trainer.global_rank == 0:
            Path(self.path).write_text("\n".join(str(d[0]) for d in durations(self.stamps)))


def framework(cfg: Any, net: torch.nn.Module, loss_fn: torch.nn.Module, batch: dict[str, Any], steps: int, device: str, bf16: bool, devices: int = 1) -> tuple[list[float], float | None]:
    """Step times through Lightning (rank 0's, with ``devices`` > 1: DDP started by spawning), and peak memory (MiB)."""
    module = SegModule(net, loss_fn, optim=dict(cfg.model.optim), scheduler=dict(cfg.model.scheduler), lr=float(cfg.model.lr), max_steps=10_000, batch_hooks=[])
    with tempfile.TemporaryDirectory() as tmp:
        timer = RankZeroTimes(device, str(Path(tmp) / "times.txt"))
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        trainer = pl.Trainer(
            accelerator="gpu" if device == "cuda" else "cpu", devices=devices, strategy="ddp_spawn" if devices > 1 else "auto",
            max_steps=steps, precision="bf16-mixed" if bf16 else "32-true", logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
            gradient_clip_val=cfg.model.get("gradient_clip_val"), callbacks=[timer], use_distributed_sampler=False,
        )
        trainer.fit(module, train_dataloaders=DataLoader(SameBatch(batch, steps), batch_size=None))
        times = [float(x) for x in Path(timer.path).read_text().split()]
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" and devices == 1 else None
    return times, peak


def summary(times: list[float]) -> tuple[float, float, float]:
    return statistics.median(times), min(times), max(times)


def run_model(model: str, args: argparse.Namespace, batch: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, (bf16, cl, comp) in VARIANTS.items():
        if (comp and args.no_compile) or name not in args.variants:
            continue
        n = args.warmup + args.steps
        try:
            cfg, net, loss_fn = build(model, args.batch)
            b = bare(cfg, prepare(net, cl, comp), loss_fn, batch, n, args.device, bf16, cl)[args.warmup :]
            cfg, net, loss_fn = build(model, args.batch)
            f, peak = framework(cfg, prepare(net, cl, comp), loss_fn, batch, n, args.device, bf16)
            f = f[args.warmup :]
        except Exception as exc:  # noqa: BLE001 - a variant that does not work for this model is a figure too
            rows.append({"model": model, "variant": name, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"})
            print(f"{model:<20}{name:<20} failed: {rows[-1]['error']}", flush=True)
            continue
        (bm, bmin, bmax), (fm, fmin, fmax) = summary(b), summary(f)
        rows.append({"model": model, "variant": name, "bare": bm, "framework": fm, "ratio": fm / bm, "img_s": args.batch / fm, "peak": peak})
        mem = f"{peak:>9.0f}" if peak is not None else f"{'-':>9}"
        print(
            f"{model:<20}{name:<20}{bm * 1e3:>9.1f} ({bmin * 1e3:.0f}-{bmax * 1e3:.0f}){fm * 1e3:>11.1f} ({fmin * 1e3:.0f}-{fmax * 1e3:.0f})"
            f"{fm / bm:>8.3f}{args.batch / fm:>9.1f}{mem}",
            flush=True,
        )
    return rows


def scaling(model: str, args: argparse.Namespace, batch: dict[str, Any], best: str, one: float) -> None:
    """DDP over ``args.devices`` (same per-device batch) against ``one``, the 1-device framework step time."""
    bf16, cl, _ = VARIANTS[best]
    n = args.warmup + args.steps
    cfg, net, loss_fn = build(model, args.batch)
    many = statistics.median(framework(cfg, prepare(net, cl, False), loss_fn, batch, n, args.device, bf16, devices=args.devices)[0][args.warmup :])
    ips1, ipsn = args.batch / one, args.devices * args.batch / many
    eff = ipsn / (args.devices * ips1)
    verdict = "met" if eff >= 0.9 else "not met"
    print(f"DDP {model:<20}{best:<14} 1 device {ips1:8.1f} img/s | {args.devices} devices {ipsn:8.1f} img/s | efficiency {eff:.3f} (target >= 0.9: {verdict})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, nargs=2, default=[512, 512], metavar=("H", "W"))
    ap.add_argument("--steps", type=int, default=20, help="measured steps per variant")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--devices", type=int, default=1, help="> 1: also DDP scaling efficiency on that many devices")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--no-compile", action="store_true", help="leave out the torch.compile variant")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--smoke", action="store_true", help="tiny models, 32x32, batch 2, 1+1 steps, CPU, fp32 and bf16+channels_last: checks the script runs")
    args = ap.parse_args()
    if args.smoke:
        args.models = args.models or SMOKE
        args.batch, args.size, args.steps, args.warmup, args.device, args.no_compile = 2, [32, 32], 1, 1, "cpu", True
        if args.variants == list(VARIANTS):  # fp32 and the bf16 + channels_last path: every code path but compile
            args.variants = ["fp32", "bf16+channels_last"]
    if args.device == "cpu" and not args.smoke:
        print("note: no GPU here; CPU figures say nothing about GPU throughput")
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.backends.cudnn.benchmark = True
    batch = make_batch(args.batch, tuple(args.size))
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device={gpu} batch={args.batch} size={args.size[0]}x{args.size[1]} steps={args.steps} (+{args.warmup} warm-up) torch={torch.__version__}")
    print(f"{'model':<20}{'variant':<20}{'bare ms (min-max)':>20}{'framework ms (min-max)':>24}{'ratio':>8}{'img/s':>9}{'peak MiB':>9}")
    all_rows = []
    for model in args.models or FULL:
        rows = [r for r in run_model(model, args, batch) if "error" not in r]
        all_rows += rows
        if args.devices > 1 and rows:
            best = max((r for r in rows if not VARIANTS[r["variant"]][2]), key=lambda r: r["img_s"])
            scaling(model, args, batch, best["variant"], best["framework"])
    if all_rows:
        worst = max(all_rows, key=lambda r: r["ratio"])
        print(f"worst framework/bare ratio: {worst['ratio']:.3f} ({worst['model']}, {worst['variant']}; target <= 1.05: {'met' if worst['ratio'] <= 1.05 else 'not met'})")


if __name__ == "__main__":
    main()
