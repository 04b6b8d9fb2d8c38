"""Networks from segmentation_models_pytorch (SegFormer, DeepLabV3+, PSPNet) with the recipes' auxiliary FCN head.

Weights never come from a hub implicitly: the network is built with ``encoder_weights=None`` and, when
``pretrained``, the encoder is loaded from a local file or an existing Hugging Face cache (models/weights.py).
"""

from __future__ import annotations

from typing import Any, Mapping

import segmentation_models_pytorch as smp
import torch
from torch import nn

from prove_lightning.errors import ConfigError
from prove_lightning.models.heads import FCNHead
from prove_lightning.models.net import SegNet
from prove_lightning.models.weights import load_pretrained


def smp_hub_entry(encoder_name: str) -> dict[str, Any] | None:
    """Where smp (or timm, for ``tu-`` encoders) caches this encoder's ImageNet weights in the HF cache."""
    if encoder_name.startswith("tu-"):
        import timm

        cfg = timm.models.get_pretrained_cfg(encoder_name[3:])
        hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
        return {"repo_id": hub_id.split("@")[0], "filename": "model.safetensors"} if hub_id else None
    from segmentation_models_pytorch.encoders import encoders

    settings = encoders.get(encoder_name, {}).get("pretrained_settings", {}).get("imagenet")
    if not settings:
        return None
    return {"repo_id": settings["repo_id"], "revision": settings.get("revision"), "filename": "model.safetensors"}


class SmpWithAux(nn.Module):
    """An smp network plus an auxiliary FCN head on one encoder stage (MMSeg's aux head, loss weight in the loss config).

    Keeps smp's submodule names (``encoder``, ``decoder``, ``segmentation_head``) so parameter groups and
    checkpoints look the same with and without the head.
    """

    def __init__(self, base: nn.Module, aux_head: nn.Module, aux_stage: int) -> None:
        super().__init__()
        self.encoder = base.encoder
        self.decoder = base.decoder
        self.segmentation_head = base.segmentation_head
        self.aux_head = aux_head
        self.aux_stage = aux_stage

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        features = self.encoder(x)
        out = self.segmentation_head(self.decoder(features))
        if self.training:
            return {"out": out, "aux": self.aux_head(features[self.aux_stage])}
        return out


def build_smp(
    arch: str,
    encoder_name: str,
    num_classes: int,
    pretrained: bool = False,
    weights_path: str | None = None,
    name: str = "",
    aux_head: Mapping[str, Any] | None = None,
    hub: Mapping[str, Any] | str | None = "auto",
    **kwargs: Any,
) -> SegNet:
    """Build ``smp.<arch>`` with random init, optionally an aux FCN head, then load encoder weights when ``pretrained``.

    ``aux_head``: {stage: index into the encoder's feature list (-2 = ResNet layer3), channels, dropout}.
    ``hub``: 'auto' = smp's own cache entry for the encoder, a {repo_id, filename} mapping, or None.
    """
    try:
        cls = getattr(smp, arch)
    except AttributeError:
        raise ConfigError(f"segmentation_models_pytorch has no architecture '{arch}'") from None
    model: nn.Module = cls(encoder_name=encoder_name, encoder_weights=None, classes=num_classes, **kwargs)
    if aux_head:
        stage = int(aux_head.get("stage", -2))
        in_ch = model.encoder.out_channels[stage]
        head = FCNHead(in_ch, int(aux_head.get("channels", 256)), num_classes, dropout=float(aux_head.get("dropout", 0.1)))
        model = SmpWithAux(model, head, stage)
    if pretrained:
        hub_entry = smp_hub_entry(encoder_name) if hub == "auto" else hub
        load_pretrained(model.encoder, weights_path, name or f"{arch}/{encoder_name}", hub=hub_entry)  # type: ignore[arg-type]
    return SegNet(model, num_classes=num_classes, stride=32)
