"""prove predict: run a trained model on your own images.

    prove predict run_dir=outputs/s1/baseline/toycity/segformer_b3 input=my_images/ output=preds/
    prove predict run_dir=... input='frames/*.jpg' output=preds/ overlay=true step=40000 format=cityscapes_labelids

Writes, per image, <output>/<name>.png (label ids: the run's dataset.prediction_format, trainids or
cityscapes_labelids, or format=...), <name>_color.png (Cityscapes palette) and with overlay=true
<name>_overlay.png (palette over the image). Whole-image or sliding-window inference as the model's inference
config says (recorded in the checkpoint). Options: step= (default: the final checkpoint), device= (cuda/cpu).
"""

from __future__ import annotations

import sys
from pathlib import Path

HELP = "run a trained run's model on a folder or glob of images: label, palette and overlay PNGs"

KEYS = ("run_dir", "input", "output", "overlay", "step", "format", "device")


def parse(argv: list[str]) -> dict[str, str]:
    from prove_lightning.errors import ConfigError

    out: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.lstrip("-").partition("=")
        key = key.replace("-", "_")
        if not sep or key not in KEYS:
            raise ConfigError(f"prove predict: '{arg}' is not one of {', '.join(k + '=...' for k in KEYS)}")
        out[key] = value
    missing = [k for k in ("run_dir", "input", "output") if not out.get(k)]
    if missing:
        raise ConfigError(f"prove predict: missing {', '.join(k + '=...' for k in missing)} (see prove predict --help)")
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    from rich.progress import track

    from prove_lightning.predict import find_images, load_run, predict_images

    a = parse(argv)
    run = load_run(a["run_dir"], int(a["step"]) if a.get("step") else None, a.get("device") or None)
    images = find_images(a["input"])
    root = Path(a["input"]) if Path(a["input"]).is_dir() else None
    output = Path(a["output"])
    with_overlay = a.get("overlay", "false").lower() in ("1", "true", "yes")
    mode = run.model.inference.get("mode", "whole")
    print(f"{run.checkpoint} (step {run.step}, {mode} inference): {len(images)} images -> {output}")
    done = predict_images(run, images, output, a.get("format") or None, with_overlay, root)
    if sys.stdout.isatty():
        for _ in track(done, total=len(images), description="predicting"):
            pass
    else:  # a log file: a plain line every 10 images
        for i, path in enumerate(done, 1):
            if i % 10 == 0 or i == len(images):
                print(f"predicted {i}/{len(images)} ({path.name})", flush=True)
    return 0
