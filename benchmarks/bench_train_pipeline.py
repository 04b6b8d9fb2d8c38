"""Training-sample loading: ours (decode + labelIds -> trainIds + the recipe's train pipeline) vs a bare cv2 decode
of the same files, and vs MMSeg's way of doing the same work.

    python benchmarks/bench_train_pipeline.py [--n 8] [--rounds 7] [--size 2048x1024] [--crop H W] [--json out.json]

Cityscapes-size synthetic PNGs (2048x1024 RGB image + 8-bit labelIds, PIL's default compression) in a temp dir.
  - cv2 decode: ``cv2.imread`` of the image (BGR, no conversion) and of the label (IMREAD_UNCHANGED); the target's
    floor. libspng decode: pyspng.load of both files (the decoder ours uses; printed, no target).
  - ours: SegDataset[i] itself: images.read_image_native (libspng for 8-bit RGB PNGs, else OpenCV's BGR: the
    pipeline converts its crop), images.read_label (libspng for 8-bit grey PNGs, else PIL: palette indices exact),
    the dataset's LabelMapping, data.transforms.TrainPipeline with the crop of
    conf/dataset/cityscapes.yaml's train_pipeline (or --crop; 512x1024 is MMSeg's Cityscapes crop), tensors.
  - MMSeg's way: mmcv's loading (file bytes -> cv2.imdecode for the image; PIL for the label: LoadAnnotations'
    default backend), the same label mapping, then tests/transforms_reference.py (whole-image resize, then crop,
    np.unique crop check, float32 photometric steps: MMSeg's transforms re-implemented; MMSeg is never imported).
One process, one thread; variants interleaved sample by sample; CPU time (process_time) per round, and the
paired per-round ratios' median with a 90% bootstrap interval. Targets: ours <= 1.10x cv2 decode (upper end of
the interval), MMSeg's way >= 1.3x ours (lower end).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyspng
from PIL import Image

from _common import Figure, emit, load_avg, median_spread, ratio_interval
from prove_lightning.data.labels import get_label_mapping
from prove_lightning.data.sources.cityscapes_labels import CITYSCAPES_LABELID_TO_TRAINID
from prove_lightning.data.transforms import build_pipeline
from prove_lightning.data.dataset import SegDataset
from prove_lightning.data.records import SampleRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the oracle lives with the tests that use it
from transforms_reference import ResizeThenCropPipeline  # noqa: E402


def synth_pair(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A street-like picture (smooth gradients, blocks, noise: PNG-compresses like a photo) and labelIds regions."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w * 200, yy / h * 180, (xx + yy) / (w + h) * 220], -1)
    blocks = rng.integers(0, 60, size=(h // 32 + 1, w // 32 + 1, 3)).repeat(32, 0).repeat(32, 1)[:h, :w]
    img = np.clip(base + blocks + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)
    ids = np.array(sorted(CITYSCAPES_LABELID_TO_TRAINID) + [0, 1, 4], dtype=np.uint8)
    cells = rng.choice(ids, size=(h // 128 + 1, w // 128 + 1))
    lab = cells.repeat(128, 0).repeat(128, 1)[:h, :w]
    lab[: h // 3] = 23  # sky band
    return img, np.ascontiguousarray(lab)


def recipe_pipeline_cfg() -> dict:
    """conf/dataset/cityscapes.yaml's train_pipeline, as the datamodule gets it."""
    from omegaconf import OmegaConf

    from prove_lightning.config import compose

    cfg = compose("train", ["dataset=cityscapes", "paths.output_root=/tmp/bench"])
    return dict(OmegaConf.to_container(cfg.dataset.train_pipeline, resolve=True))  # type: ignore[arg-type]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=8, help="distinct image/label pairs")
    p.add_argument("--rounds", type=int, default=7, help="passes over the pairs (each pass: every variant, interleaved)")
    p.add_argument("--size", default="2048x1024", help="WxH of the synthetic images")
    p.add_argument("--crop", type=int, nargs=2, default=None, metavar=("H", "W"), help="crop instead of the conf's")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    pipe_cfg = recipe_pipeline_cfg()
    if a.crop:
        pipe_cfg["crop_size"] = list(a.crop)
    if a.smoke:
        a.n, a.rounds, a.size = 2, 2, "256x128"
        pipe_cfg["crop_size"], pipe_cfg["scale"] = [64, 128], [256, 128]
    w, h = map(int, a.size.lower().split("x"))
    cv2.setNumThreads(1)
    mapping = get_label_mapping("cityscapes_labelids")
    ours = build_pipeline(pipe_cfg, train=True)
    ref = ResizeThenCropPipeline(**{k: tuple(v) if isinstance(v, list) else v for k, v in pipe_cfg.items()})
    crop = "x".join(map(str, pipe_cfg["crop_size"]))
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        files = []
        for i in range(a.n):
            img, lab = synth_pair(rng, h, w)
            ip, lp = Path(tmp) / f"c_{i:03d}_leftImg8bit.png", Path(tmp) / f"c_{i:03d}_gtFine_labelIds.png"
            Image.fromarray(img).save(ip)  # PIL's default zlib level, like the dataset's own PNGs
            Image.fromarray(lab).save(lp)
            files.append((ip, lp))

        def cv2_decode(i: int):
            ip, lp = files[i]
            return cv2.imread(str(ip), cv2.IMREAD_COLOR), cv2.imread(str(lp), cv2.IMREAD_UNCHANGED)

        def spng_decode(i: int):
            ip, lp = files[i]
            return pyspng.load(ip.read_bytes()), pyspng.load(lp.read_bytes())

        dataset = SegDataset([SampleRecord(ip, lp, "cityscapes", "clear_day", "train") for ip, lp in files], {"cityscapes": mapping}, ours)

        def ours_sample(i: int):
            return dataset[(i, i)]  # what a DataLoader worker does per sample, up to the tensors it collates

        def mmseg_sample(i: int):
            ip, lp = files[i]
            img = cv2.imdecode(np.frombuffer(ip.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
            with Image.open(io.BytesIO(lp.read_bytes())) as im:
                raw = np.array(im)
            return ref(img, mapping(raw, lp), np.random.default_rng(i))

        variants = {"cv2 decode (image + label)": cv2_decode, "libspng decode (image + label)": spng_decode, f"ours (decode + map + crop {crop})": ours_sample, f"MMSeg's way (crop {crop})": mmseg_sample}
        for fn in variants.values():  # warm-up: page cache, first-call costs
            fn(0)
        totals = {k: [] for k in variants}
        for _ in range(a.rounds):
            per = dict.fromkeys(variants, 0.0)
            for i in range(a.n):
                for k, fn in variants.items():
                    t0 = time.process_time()
                    fn(i)
                    per[k] += time.process_time() - t0
            for k in variants:
                totals[k].append(per[k] / a.n)
    print(f"{a.n} pairs of {w}x{h} PNG, crop {crop}; CPU ms per sample, median [quartiles] of {a.rounds} interleaved rounds; 1 thread; {load_avg()}")
    for k, v in totals.items():
        m, lo, hi = median_spread(v)
        print(f"  {k:40s} {m * 1e3:8.1f} [{lo * 1e3:.1f}-{hi * 1e3:.1f}]")
    base, spng_k, ours_k, mm_k = list(variants)
    r_ours = ratio_interval(totals[ours_k], totals[base])
    r_mm = ratio_interval(totals[mm_k], totals[ours_k])
    r_spng = ratio_interval(totals[ours_k], totals[spng_k])
    emit([
        Figure(f"train pipeline {crop}: ours / cv2 decode", r_ours[0], "x", 1.10, "<=", judged=r_ours[2], detail=f"90% interval {r_ours[1]:.3f}-{r_ours[2]:.3f}"),
        Figure(f"train pipeline {crop}: MMSeg's way / ours", r_mm[0], "x", 1.3, ">=", judged=r_mm[1], detail=f"90% interval {r_mm[1]:.3f}-{r_mm[2]:.3f}"),
        Figure(f"train pipeline {crop}: ours / libspng decode (our decoder alone)", r_spng[0], "x", detail=f"90% interval {r_spng[1]:.3f}-{r_spng[2]:.3f}"),
    ], a.json)


if __name__ == "__main__":
    main()
