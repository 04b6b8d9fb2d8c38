"""Evaluation loop overhead: images/s of `prove eval` (run_eval: checkpoint load, test loaders, per-domain counting,
JSON and results-store writes) beside the pure model forward (normalise, net, argmax) on the same images.

    python benchmarks/bench_eval.py [--model segformer_b0] [--height 256] [--width 512] [--n-test 24] [--repeats 5]

A tiny run is trained for one step on ToyCity in a temp dir (its checkpoint is what is tested). Then, per repeat,
interleaved: run_eval on that checkpoint (ToyCity's test split, CPU, the machine's default num_workers) and a
forward-only pass over the same test images held in memory as batches of the eval batch size. Medians with the
paired ratios' 90% interval; target eval / forward <= 1.15 (upper end). Also reported, without a target: the
wall time of ``import prove_lightning.eval`` in a fresh interpreter (what every `prove eval` pays first).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from _common import Figure, emit, load_avg, median_spread, ratio_interval  # noqa: E402
from prove_lightning.config import compose, default_num_workers, instantiate  # noqa: E402


def train_tiny(out: Path, model: str, h: int, w: int, n_test: int):  # noqa: ANN201
    from prove_lightning.train import run_training

    cfg = compose("train", [
        "stage=demo", f"model={model}", "dataset=toycity", "trainer=cpu", "trainer.enable_progress_bar=false",
        "data.num_workers=0", "data.batch_size=2", "trainer.max_steps=1", "trainer.val_check_interval=1",
        "stage.checkpoint_interval=1", "test_after_training=false", f"paths.output_root={out}", f"paths.cache_root={out / 'cache'}",
        f"dataset.source.height={h}", f"dataset.source.width={w}", "dataset.source.n_train=8", f"dataset.source.n_test={n_test}",
        f"dataset.train_pipeline.scale=[{w},{h}]", f"dataset.train_pipeline.crop_size=[{h // 2},{w // 2}]",
    ])
    OmegaConf.set_struct(cfg, False)
    cfg.pop("hydra", None)
    return cfg, Path(run_training(cfg)["run_dir"])


def forward_batches(run_dir: Path) -> tuple[torch.nn.Module, list[torch.Tensor], object]:
    """The run's network with the checkpoint's weights and the test images as the eval loader batches them."""
    from prove_lightning.tasks.eval_run import load_run_spec
    from prove_lightning.tasks.testsets import resolve_test_sets

    run_cfg = OmegaConf.load(run_dir / "config.yaml")
    net = instantiate(run_cfg.model.net)
    ckpt = sorted((run_dir / "checkpoints").glob("step_*.ckpt"))[-1]
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    net.load_state_dict({k[len("net."):]: v for k, v in state.items() if k.startswith("net.")})
    net.eval()
    images = [b["image"] for t in resolve_test_sets(load_run_spec(run_dir)) for b in t.dataloader(0)]
    return net, images, run_cfg


def pure_forward(net: torch.nn.Module, images: list[torch.Tensor]) -> None:
    from prove_lightning.module import MEAN, STD

    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        for img in images:
            net((img.float() - mean) / std)["out"].argmax(1).to(torch.uint8)


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import prove_lightning.eval; print(time.perf_counter() - t)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="segformer_b0")
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--n-test", type=int, default=24, help="ToyCity test images (dataset.source.n_test)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: a shared machine's second thread stalls OpenMP)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.smoke:
        a.height, a.width, a.n_test, a.repeats = 32, 64, 2, 2
    torch.set_num_threads(a.threads)
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    from prove_lightning.eval import run_eval

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        train_cfg, run_dir = train_tiny(out, a.model, a.height, a.width, a.n_test)
        net, images, _ = forward_batches(run_dir)
        n_images = sum(int(i.shape[0]) for i in images)
        evalcfg = OmegaConf.create({
            "run_dir": str(run_dir), "ckpt_path": None, "ckpt": "all", "accelerator": "cpu", "store_root": None, "test_datasets": None,
            "save_predictions": False, "num_workers": default_num_workers(), "progress": False, "paths": OmegaConf.to_container(train_cfg.paths),
        })
        import contextlib
        import io

        def quiet_eval() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                run_eval(evalcfg)

        quiet_eval()  # warm-up (first-call costs, page cache)
        pure_forward(net, images)
        ev, fw = [], []
        for _ in range(a.repeats):
            for fn, acc in ((quiet_eval, ev), (lambda: pure_forward(net, images), fw)):
                t = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - t)
    e, f = median_spread(ev), median_spread(fw)
    r = ratio_interval(ev, fw)
    imp = import_time()
    print(f"{a.model} on ToyCity {a.width}x{a.height}: {n_images} test images, batch {images[0].shape[0]}; torch threads {a.threads}; "
          f"num_workers {default_num_workers()}; {a.repeats} interleaved repeats; {load_avg()}")
    print(f"  prove eval (run_eval)   {n_images / e[0]:8.2f} images/s  ({e[0]:.2f} s [{e[1]:.2f}-{e[2]:.2f}])")
    print(f"  pure forward            {n_images / f[0]:8.2f} images/s  ({f[0]:.2f} s [{f[1]:.2f}-{f[2]:.2f}])")
    print(f"  import prove_lightning.eval in a fresh interpreter: {imp:.2f} s")
    emit([
        Figure("eval loop / pure forward", r[0], "x", 1.15, "<=", judged=r[2], detail=f"90% interval {r[1]:.3f}-{r[2]:.3f}; {n_images / e[0]:.1f} vs {n_images / f[0]:.1f} images/s"),
        Figure("import prove_lightning.eval", imp, "s", detail="fresh interpreter, wall clock"),
    ], a.json)


if __name__ == "__main__":
    main()
