"""prove weights convert: MMSeg's ResNetV1c ImageNet file (or a whole MMSeg segmentor checkpoint) -> our backbone's keys.

    prove weights convert resnet50_v1c-2cccc1ad.pth weights/resnet50_v1c.pth
    prove weights convert r18_v1c.pth weights/resnet18_v1c.pth --backbone resnet18d --timm-kwarg avg_down=false

Prints the mapping report (every renamed key, what was dropped), checks that the result fills every tensor of our
backbone with the right shape, and writes it atomically; it is what ``model.weights_path`` of deeplabv3plus_r50 /
pspnet_r50 expects (conf/model; the loader also converts an MMSeg file on the fly).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "convert MMSeg ResNetV1c backbone weights to this project's keys, with a mapping report"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="prove weights", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    c = sub.add_parser("convert", help="MMSeg ResNetV1c state dict -> timm ResNetV1c keys")
    c.add_argument("src", type=Path, help="MMSeg / mmcv file, e.g. resnet50_v1c-2cccc1ad.pth")
    c.add_argument("dst", type=Path, help="where to write our state dict (.pth)")
    c.add_argument("--backbone", default="resnet50c", help="timm model the keys are checked against (default resnet50c = V1c-50)")
    c.add_argument("--timm-kwarg", action="append", default=[], metavar="K=V", help="extra timm kwarg, e.g. avg_down=false")
    c.add_argument("--quiet", action="store_true", help="print the summary only, not every renamed key")
    a = p.parse_args(argv)
    return convert(a.src, a.dst, a.backbone, dict(_kv(x) for x in a.timm_kwarg), a.quiet)


def _kv(text: str) -> tuple[str, object]:
    from prove_lightning.errors import ConfigError

    if "=" not in text:
        raise ConfigError(f"--timm-kwarg {text!r}: expected KEY=VALUE, e.g. avg_down=false")
    k, v = text.split("=", 1)
    low = v.lower()
    return k, True if low == "true" else False if low == "false" else int(v) if v.lstrip("-").isdigit() else v


def convert(src: Path, dst: Path, backbone: str = "resnet50c", timm_kwargs: dict | None = None, quiet: bool = False) -> int:
    import torch

    from prove_lightning.errors import ConfigError
    from prove_lightning.io import atomic_path
    from prove_lightning.models.resnet_v1c import build_resnet_v1c
    from prove_lightning.models.v1c_keys import mmseg_v1c_to_timm
    from prove_lightning.models.weights import read_state_dict

    if not src.is_file():
        raise ConfigError(f"{src}: file not found; download MMSeg's resnet50_v1c ImageNet file (see models/resnet_v1c.py)")
    try:
        state, report = mmseg_v1c_to_timm(read_state_dict(src))
    except ValueError as e:
        raise ConfigError(f"{src}: {e}") from None
    own = build_resnet_v1c(backbone, **(timm_kwargs or {})).state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in own if k in state and state[k].shape != own[k].shape]
    lines = report.lines()
    print(lines[0] if quiet else "\n".join(lines))
    if missing or unexpected or wrong:
        raise ConfigError(
            f"{src}: does not fit timm {backbone}: {len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected "
            f"(e.g. {unexpected[:3]}), {len(wrong)} of another shape (e.g. {wrong[:2]}); pick --backbone for its depth"
        )
    with atomic_path(dst, suffix=".pth") as tmp:
        torch.save(state, tmp)
    print(f"wrote {dst}: {len(state)} tensors, all {len(own)} of timm {backbone} filled")
    return 0
