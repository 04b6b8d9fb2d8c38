"""`prove weights convert` on a synthetic state dict with MMSeg's ResNetV1c key names (built here from our own
backbone by the inverse renaming, so the test needs no download): the converted file loads into
deeplabv3plus_tiny's backbone bit for bit; the loader also takes the MMSeg file as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prove_lightning.cli import main as prove
from prove_lightning.config import compose, instantiate
from prove_lightning.models.resnet_v1c import build_resnet_v1c
from prove_lightning.models.v1c_keys import STEM

TIMM_KWARGS = {"avg_down": False}  # resnet18d without avg-down = V1c-18, the tiny variants' backbone


def mmseg_style_state() -> dict[str, torch.Tensor]:
    """What mmcv's resnet*_v1c file holds: stem.{0,1,3,4,6,7}.*, layerN.*, fc.* (ImageNet classifier)."""
    torch.manual_seed(3)
    own = build_resnet_v1c("resnet18d", **TIMM_KWARGS).state_dict()
    inverse = {v: k for k, v in STEM.items()}
    state = {}
    for key, value in own.items():
        frm = next((t for t in inverse if key.startswith(t)), None)
        new = inverse[frm] + key[len(frm):] if frm else key
        state[new] = torch.randn_like(value.float()).to(value.dtype) if value.is_floating_point() else value.clone()
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    assert "stem.7.running_var" in state and "layer1.0.conv1.weight" in state and "conv1.0.weight" not in state
    return state


def tiny_backbone(*overrides: str) -> dict[str, torch.Tensor]:
    cfg = compose("train", ["model=deeplabv3plus_tiny", "paths.output_root=/nonexistent", *overrides])
    net = instantiate(cfg.model.net)
    return {k[len("model.backbone."):]: v for k, v in net.state_dict().items() if k.startswith("model.backbone.")}


def test_convert_maps_mmseg_keys_and_the_result_loads_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mm = mmseg_style_state()
    src, dst = tmp_path / "resnet18_v1c_mmseg.pth", tmp_path / "resnet18_v1c.pth"
    torch.save({"state_dict": mm, "meta": {}}, src)
    assert prove(["weights", "convert", str(src), str(dst), "--backbone", "resnet18d", "--timm-kwarg", "avg_down=false"]) == 0
    out = capsys.readouterr().out
    assert "stem.7.weight -> bn1.weight" in out and "stem.0.weight -> conv1.0.weight" in out
    assert "dropped (no counterpart in the backbone): fc.weight, fc.bias" in out
    got = tiny_backbone("model.pretrained=true", f"model.weights_path={dst}")
    assert torch.equal(got["bn1.running_var"], mm["stem.7.running_var"]) and torch.equal(got["conv1.3.weight"], mm["stem.3.weight"])
    assert all(torch.equal(got[k], mm[k]) for k in got if k.startswith("layer"))
    # the MMSeg file as it is: converted on the fly, same tensors
    direct = tiny_backbone("model.pretrained=true", f"model.weights_path={src}")
    assert all(torch.equal(direct[k], got[k]) for k in got)


def test_convert_refuses_a_file_of_another_depth_or_without_a_v1c_stem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "mm.pth"
    torch.save(mmseg_style_state(), src)
    with pytest.raises(SystemExit) as exit_:  # resnet50c expected
        prove(["weights", "convert", str(src), str(tmp_path / "out.pth")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "does not fit timm resnet50c" in err and "--backbone" in err and not (tmp_path / "out.pth").exists()
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, src)
    with pytest.raises(SystemExit):
        prove(["weights", "convert", str(src), str(tmp_path / "out.pth")])
    assert "no 'stem.*' keys" in capsys.readouterr().err
