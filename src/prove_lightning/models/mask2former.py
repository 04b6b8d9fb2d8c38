"""Mask2Former (transformers) with a Swin backbone, trained from semantic labels with its own set-prediction loss.

Built offline from configs (random init); ``pretrained`` loads Swin ImageNet weights into the backbone from a
local file or the Hugging Face cache. Semantic output: ``einsum(softmax(class)[..., :-1], sigmoid(mask))`` with
the mask logits upsampled to the input size first (MMSeg's rule). We never use the image processor's
post-processing: it resizes masks to 384x384 before the target size and distorts non-square inputs. (In training
the semantic output, used only by extra loss terms, is formed at mask resolution and upsampled: cheaper.)
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from prove_lightning.labelspace import IGNORE_INDEX
from prove_lightning.models.net import SegNet
from prove_lightning.models.util import plain
from prove_lightning.models.weights import load_pretrained

#: the ``out`` of this network is log(score): softmax(out) renormalises the scores, argmax is the prediction
SCORE_EPS = 1e-6
#: loss_dict key fragments -> the names the loss terms are logged under (final layer and deep supervision summed)
_TERM_NAMES = {"loss_cross_entropy": "m2f_class", "loss_mask": "m2f_mask", "loss_dice": "m2f_dice"}


def semantic_scores(class_logits: torch.Tensor, mask_logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, Q, C+1) class logits and (B, Q, h, w) mask logits -> (B, C, H, W) per-class scores at ``size``."""
    masks = F.interpolate(mask_logits, size=size, mode="bilinear", align_corners=False).sigmoid()
    probs = class_logits.softmax(dim=-1)[..., :-1]
    return torch.einsum("bqc,bqhw->bchw", probs, masks)


def semantic_to_targets(label: torch.Tensor, num_classes: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per image: one binary mask per class present (ignore pixels belong to no mask) and its class id."""
    mask_labels, class_labels = [], []
    for lab in label:
        classes = torch.unique(lab)
        classes = classes[(classes != IGNORE_INDEX) & (classes < num_classes)]
        mask_labels.append((lab[None] == classes[:, None, None]).float())
        class_labels.append(classes.long())
    return mask_labels, class_labels


class Mask2FormerSeg(nn.Module):
    def __init__(self, hf_model: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.hf = hf_model
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, Any]:
        out = self.hf(pixel_values=x, output_auxiliary_logits=self.training, return_dict=True)
        cls, masks = out.class_queries_logits, out.masks_queries_logits
        if not self.training:  # prediction: mask logits upsampled to the input size first (MMSeg's rule)
            return torch.log(semantic_scores(cls, masks, tuple(x.shape[-2:])).clamp_min(SCORE_EPS))
        # training: the semantic output (for extra loss terms) at mask resolution; SegNet upsamples it to the
        # input size. A (batch, queries, H, W) upsampling of every step's masks would cost ~1 GB at 8x512x1024.
        logits = torch.log(semantic_scores(cls, masks, tuple(masks.shape[-2:])).clamp_min(SCORE_EPS))
        return {"out": logits, "model_losses": self._criterion(cls, masks, out.auxiliary_logits, tuple(x.shape[-2:]))}

    def _criterion(self, cls: torch.Tensor, masks: torch.Tensor, aux: Any, padded: tuple[int, int]) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
        def model_losses(label: torch.Tensor) -> dict[str, torch.Tensor]:
            ph, pw = padded[0] - label.shape[-2], padded[1] - label.shape[-1]
            if ph or pw:  # SegNet padded the image bottom/right: the padding is ignore
                label = F.pad(label, (0, pw, 0, ph), value=IGNORE_INDEX)
            mask_labels, class_labels = semantic_to_targets(label, self.num_classes)
            if sum(len(c) for c in class_labels) == 0:  # nothing labelled in the whole batch
                zero = cls.sum() * 0.0 + masks.sum() * 0.0
                return {name: zero for name in _TERM_NAMES.values()}
            loss_dict = self.hf.get_loss_dict(masks, cls, mask_labels, class_labels, aux)  # weighted by the config
            terms: dict[str, torch.Tensor] = {}
            for key, value in loss_dict.items():
                name = next(n for k, n in _TERM_NAMES.items() if key.startswith(k))
                terms[name] = terms[name] + value if name in terms else value
            return terms

        return model_losses


def mask2former_config(num_classes: int, backbone: Mapping[str, Any], decoder: Mapping[str, Any] | None = None) -> Any:
    """The transformers Mask2FormerConfig (Swin backbone config inside) that ``build_mask2former`` builds from."""
    from transformers import Mask2FormerConfig, SwinConfig

    swin = SwinConfig(**plain(dict(backbone)), out_features=["stage1", "stage2", "stage3", "stage4"])
    return Mask2FormerConfig(backbone_config=swin, num_labels=num_classes, ignore_value=IGNORE_INDEX, **plain(dict(decoder or {})))


def build_mask2former(
    num_classes: int,
    backbone: Mapping[str, Any],
    decoder: Mapping[str, Any] | None = None,
    pretrained: bool = False,
    weights_path: str | None = None,
    hub: Mapping[str, Any] | None = None,
    name: str = "mask2former",
) -> SegNet:
    """Mask2Former with ``SwinConfig(**backbone)`` and ``Mask2FormerConfig(**decoder)``, num_labels = num_classes."""
    from transformers import Mask2FormerForUniversalSegmentation

    hf = Mask2FormerForUniversalSegmentation(mask2former_config(num_classes, backbone, decoder))
    if pretrained:
        load_pretrained(hf.model.pixel_level_module.encoder, weights_path, name, hub=hub)
    return SegNet(Mask2FormerSeg(hf, num_classes), num_classes=num_classes, stride=32, backbone_prefixes=("hf.model.pixel_level_module.encoder.",))
