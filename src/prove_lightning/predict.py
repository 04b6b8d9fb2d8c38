"""A trained run as a model one can call: ``load_run(run_dir)`` in a notebook, ``prove predict`` on a folder.

    from prove_lightning import load_run
    run = load_run("outputs/s1/baseline/toycity/segformer_b3")     # final checkpoint, eval mode, test pipeline
    pred = run.predict(rgb_uint8_hwc)                                 # (H, W) trainIds at the image's size

Inference (whole image or sliding window) is the model's own ``inference`` config, saved in the checkpoint.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from omegaconf import DictConfig, OmegaConf

from prove_lightning.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def find_checkpoint(run_dir: str | Path, step: int | None = None, max_steps: int | None = None) -> Path:
    """checkpoints/step_{step}.ckpt; without a step: the final one (step_{max_steps}), else the highest step_N, else last.ckpt."""
    ckpts = Path(run_dir) / "checkpoints"
    if step is not None:
        path = ckpts / f"step_{int(step)}.ckpt"
        if not path.is_file():
            have = sorted(p.name for p in ckpts.glob("step_*.ckpt"))
            raise ConfigError(f"{path} does not exist; checkpoints there: {', '.join(have) or 'none'}")
        return path
    if max_steps is not None and (ckpts / f"step_{max_steps}.ckpt").is_file():
        return ckpts / f"step_{max_steps}.ckpt"
    steps = sorted((int(m.group(1)), p) for p in ckpts.glob("step_*.ckpt") if (m := re.fullmatch(r"step_(\d+)\.ckpt", p.name)))
    if steps:
        return steps[-1][1]
    if (ckpts / "last.ckpt").is_file():
        return ckpts / "last.ckpt"
    raise ConfigError(f"no checkpoint under {ckpts}; train the run first or pass run_dir= of a trained run")


@dataclass
class LoadedRun:
    """The model (eval mode), its test pipeline and the run's recorded config."""

    model: Any
    pipeline: Any
    config: DictConfig
    checkpoint: Path
    step: int
    device: str = "cpu"
    prediction_format: str = field(default="trainids")

    def predict(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (H, W) uint8 trainIds at the input's size (the test pipeline may resize the input)."""
        import torch

        h, w = image.shape[:2]
        img, _ = self.pipeline(image, np.zeros((h, w), dtype=np.uint8))
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].to(self.device)
        with torch.inference_mode():
            pred = self.model.predict(x, (h, w))
        return pred[0].to(torch.uint8).cpu().numpy()


def load_run(run_dir: str | Path, step: int | None = None, device: str | None = None) -> LoadedRun:
    """Load a trained run from its directory: ``SegModule.load_from_checkpoint`` on the final (or ``step``) checkpoint."""
    import torch

    from prove_lightning.data.transforms import build_pipeline
    from prove_lightning.module import SegModule

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise ConfigError(f"{config_path} not found: run_dir= must be a run directory (it holds config.yaml and checkpoints/)")
    cfg = OmegaConf.load(config_path)
    max_steps = OmegaConf.select(cfg, "trainer.max_steps", default=None)
    ckpt = find_checkpoint(run_dir, step, int(max_steps) if max_steps is not None else None)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    if (saved.get("hyper_parameters") or {}).get("net_config"):
        model = SegModule.load_from_checkpoint(ckpt, map_location=device, weights_only=False)
    else:  # a checkpoint from before SegModule saved its hyperparameters: rebuild from the run's config.yaml
        from prove_lightning.tasks.parts import build_module

        config = OmegaConf.to_container(cfg, resolve=True)
        if "pretrained" in config["model"]["net"]:
            config["model"]["net"]["pretrained"] = False
        model = build_module(config)
        model.load_state_dict(saved["state_dict"])
    model.eval().to(device)
    saved_step = int(saved.get("global_step", -1))
    pipeline = build_pipeline(OmegaConf.to_container(cfg.dataset.test_pipeline, resolve=True) if "test_pipeline" in cfg.dataset else None, train=False)
    fmt = str(OmegaConf.select(cfg, "dataset.prediction_format", default="trainids"))
    return LoadedRun(model=model, pipeline=pipeline, config=cfg, checkpoint=ckpt, step=saved_step, device=device, prediction_format=fmt)


def find_images(spec: str | Path) -> list[Path]:
    """A folder (recursively: its image files), a glob pattern or one file."""
    p = Path(spec)
    if p.is_dir():
        found = [q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file()]
    elif p.is_file():
        found = [p]
    else:
        found = [Path(q) for q in glob.glob(str(spec), recursive=True) if Path(q).suffix.lower() in IMAGE_SUFFIXES]
    if not found:
        raise ConfigError(f"input={spec}: no images ({', '.join(IMAGE_SUFFIXES)}) found; give a folder, a glob such as 'dir/*.png' or a file")
    return sorted(found)


def overlay(image: np.ndarray, color: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    return (image.astype(np.float32) * (1 - alpha) + color.astype(np.float32) * alpha).round().astype(np.uint8)


def predict_images(run: LoadedRun, images: list[Path], output: Path, fmt: str | None = None, with_overlay: bool = False, root: Path | None = None) -> Iterator[Path]:
    """Write ``<output>/<rel>.png`` (ids), ``<rel>_color.png`` (palette) and, with_overlay, ``<rel>_overlay.png``
    for each image (``rel``: its path under ``root`` without suffix); yields each image as it is done."""
    from prove_lightning.labelspace import colorize
    from prove_lightning.evaluation.predictions import get_prediction_format
    from prove_lightning.images import read_image, write_png

    to_ids = get_prediction_format(fmt or run.prediction_format)
    for path in images:
        image = read_image(path)
        pred = run.predict(image)
        rel = path.relative_to(root).with_suffix("") if root is not None and path.is_relative_to(root) else Path(path.stem)
        color = colorize(pred)
        write_png(output / f"{rel}.png", to_ids(pred))
        write_png(output / f"{rel}_color.png", color)
        if with_overlay:
            write_png(output / f"{rel}_overlay.png", overlay(image, color))
        yield path
