"""Pretrained weights are all or nothing: a file that fills only some backbone tensors stops with the mismatches.

issue 12: a weights file matching 1 of 318 backbone tensors was accepted with a warning, so a run called
"pretrained" trained essentially from scratch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from prove_lightning.config import compose, instantiate
from prove_lightning.errors import ConfigError
from prove_lightning.models.weights import MIN_FRACTION_ENV, load_into


def _backbone() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16))


def test_a_partial_file_is_refused_and_the_message_lists_the_first_mismatches() -> None:
    net = _backbone()
    state = {f"backbone.{k}": v.clone() for k, v in _backbone().state_dict().items() if not k.endswith("num_batches_tracked")}
    state["backbone.2.weight"] = torch.zeros(16, 8, 5, 5)  # wrong shape
    del state["backbone.3.bias"]  # missing
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ConfigError) as err:
        load_into(net, state, "w.pth", "toy")
    msg = str(err.value)
    assert "only 10 of the 12 backbone tensors of 'toy'" in msg and "need all" in msg
    assert "2.weight: shape (16, 8, 5, 5) in the file, (16, 8, 3, 3) in the model" in msg and "3.bias: not in the file" in msg
    assert MIN_FRACTION_ENV in msg
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), "a refused file must load nothing"


def test_a_lower_fraction_is_an_explicit_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    net = _backbone()
    state = {k: v for k, v in _backbone().state_dict().items() if k != "3.bias"}
    assert load_into(net, state, "w.pth", "toy", min_fraction=0.9)["expected"] == 12
    monkeypatch.setenv(MIN_FRACTION_ENV, "0.9")
    assert load_into(net, state, "w.pth", "toy")["loaded"] == len(state)
    monkeypatch.setenv(MIN_FRACTION_ENV, "0.95")
    with pytest.raises(ConfigError, match="need 95%"):
        load_into(net, state, "w.pth", "toy")
    with pytest.raises(ConfigError, match=r"in \(0, 1\]"):
        load_into(net, state, "w.pth", "toy", min_fraction=1.5)


def test_a_complete_file_loads_without_the_bn_step_counters() -> None:
    """ImageNet files often lack BatchNorm's num_batches_tracked: not a backbone tensor a file must fill."""
    net = _backbone()
    donor = _backbone()
    state = {k: v for k, v in donor.state_dict().items() if not k.endswith("num_batches_tracked")}
    counts = load_into(net, state, "w.pth", "toy")
    assert counts["expected"] == 12 and counts["loaded"] == 12
    assert torch.equal(net[0].weight, donor[0].weight)


def test_a_real_model_refuses_a_file_missing_one_backbone_tensor(tmp_path: Path) -> None:
    cfg = compose("train", ["model=segformer_b0", "paths.output_root=/nonexistent"])
    net = instantiate(cfg.model.net)
    prefix = net.backbone_prefixes[0]
    state = {k[len(prefix):]: v for k, v in net.state_dict().items() if k.startswith(prefix)}
    dropped = sorted(state)[3]
    del state[dropped]
    path = tmp_path / "mit_b0.pth"
    torch.save(state, path)
    cfg = compose("train", ["model=segformer_b0", "model.pretrained=true", f"model.weights_path={path}", "paths.output_root=/nonexistent"])
    with pytest.raises(ConfigError, match=f"{dropped}: not in the file"):
        instantiate(cfg.model.net)
