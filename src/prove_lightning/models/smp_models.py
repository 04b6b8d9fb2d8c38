"""Networks from segmentation_models_pytorch (Segformer for now); weights never come from a hub implicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import segmentation_models_pytorch as smp
import torch

from prove_lightning.errors import ConfigError
from prove_lightning.models.net import SegNet


def load_backbone_weights(encoder: torch.nn.Module, weights_path: str | Path | None, model_name: str) -> None:
    """Load a local encoder state dict; a clear error says which file is expected where."""
    if not weights_path:
        raise ConfigError(
            f"model '{model_name}' has pretrained=true but no model.weights_path; download the encoder's "
            f"ImageNet weights once (state dict .pth/.safetensors) and set model.weights_path=/path/to/file, "
            f"or train from scratch with model.pretrained=false"
        )
    path = Path(weights_path)
    if not path.is_file():
        raise ConfigError(f"pretrained weights for model '{model_name}' not found at {path}; set model.weights_path to an existing file or model.pretrained=false")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    loaded = len(state) - len(unexpected)
    if loaded == 0:
        raise ConfigError(f"{path}: none of its {len(state)} tensors match the encoder of '{model_name}'; is it the right file?")


def build_smp(
    arch: str,
    encoder_name: str,
    num_classes: int,
    pretrained: bool = False,
    weights_path: str | None = None,
    name: str = "",
    **kwargs: Any,
) -> SegNet:
    """Build ``smp.<arch>`` with random init, then load local encoder weights when ``pretrained``."""
    try:
        cls = getattr(smp, arch)
    except AttributeError:
        raise ConfigError(f"segmentation_models_pytorch has no architecture '{arch}'") from None
    model = cls(encoder_name=encoder_name, encoder_weights=None, classes=num_classes, **kwargs)
    if pretrained:
        load_backbone_weights(model.encoder, weights_path, name or f"{arch}/{encoder_name}")
    return SegNet(model, num_classes=num_classes, stride=32)
