"""Losses: a main term plus optional weighted extra terms, all ignoring label 255.

conf/loss/ picks them: ``loss=lovasz`` makes Lovasz-softmax the main loss, ``loss=aux_lovasz`` keeps CE as the
main loss and adds 0.3 x Lovasz. Lovasz and focal are smp's implementations; the boundary loss is ours (smp
and torchmetrics have no semantic-boundary loss that understands ignore pixels).
Every term returns 0 (with a gradient path) when a batch has no labelled pixel, never NaN; CE and boundary
do so without a host-device synchronisation (smp's Lovasz and focal index by mask, which synchronises anyway).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

from prove_lightning.labelspace import IGNORE_INDEX


def _no_valid(logits: torch.Tensor, label: torch.Tensor, ignore_index: int) -> torch.Tensor | None:
    if bool((label != ignore_index).any()):
        return None
    return logits.sum() * 0.0


class CrossEntropy(nn.Module):
    """Pixel cross-entropy averaged over labelled pixels (0 when there are none), without a host-device sync."""

    def __init__(self, ignore_index: int = IGNORE_INDEX, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        total = F.cross_entropy(logits.float(), label, ignore_index=self.ignore_index, reduction="sum", label_smoothing=self.label_smoothing)
        return total / (label != self.ignore_index).sum().clamp_min(1)


class Lovasz(nn.Module):
    """Lovasz-softmax (smp), over the classes present in the batch; ``per_image`` averages per image instead.

    Per image, the mean runs over the images that have labelled pixels: smp's own per-image loop raises on an
    image that is all ignore pixels, and such an image has no IoU to optimise (0 if the whole batch is ignore).
    """

    def __init__(self, ignore_index: int = IGNORE_INDEX, per_image: bool = False) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.per_image = per_image
        self.fn = smp.losses.LovaszLoss("multiclass", per_image=False, ignore_index=ignore_index, from_logits=True)

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        zero = _no_valid(logits, label, self.ignore_index)
        if zero is not None:
            return zero
        if not self.per_image:
            return self.fn(logits.float(), label)
        labelled = (label != self.ignore_index).flatten(1).any(dim=1).tolist()
        terms = [self.fn(logits[i : i + 1].float(), label[i : i + 1]) for i, ok in enumerate(labelled) if ok]
        return torch.stack(terms).mean()


class Focal(nn.Module):
    """Multi-class sigmoid focal loss (one vs rest per class, smp), mean over classes and pixels.

    ``normalize`` says which pixels the mean runs over when a batch has ignore pixels:
    - ``all`` (default): every pixel, ignore pixels contributing 0: MMSeg 1.x's FocalLoss (use_sigmoid, gamma 2,
      alpha 0.5; ``valid_mask`` zeroes the ignored terms, then ``mean`` divides by N_all x C);
    - ``valid``: only labelled pixels (smp's FocalLoss as it is); = ``all`` x N_all / N_valid.
    The old pipeline's ``aux_focal`` was neither: a softmax focal loss (original_prove.md, row 17).
    """

    def __init__(self, ignore_index: int = IGNORE_INDEX, alpha: float = 0.5, gamma: float = 2.0, normalize: str = "all") -> None:
        super().__init__()
        if normalize not in ("all", "valid"):
            raise ValueError(f"focal normalize must be 'all' (MMSeg) or 'valid', got {normalize!r}")
        self.ignore_index, self.normalize = ignore_index, normalize
        self.fn = smp.losses.FocalLoss("multiclass", alpha=alpha, gamma=gamma, ignore_index=ignore_index)

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        zero = _no_valid(logits, label, self.ignore_index)
        if zero is not None:
            return zero
        loss = self.fn(logits.float(), label)
        if self.normalize == "all":
            loss = loss * ((label != self.ignore_index).sum() / label.numel())
        return loss


class Boundary(nn.Module):
    """Binary cross-entropy between a predicted and the true class-boundary map, over labelled pixels.

    True boundary at a labelled pixel: another class occurs among the labelled pixels of its k x k window.
    Predicted boundary: max over classes of (max - min) of the class probability over the same labelled window,
    so it is high where the predicted class changes (not merely where the network is unsure). Ignore pixels are
    neither targets nor neighbours. Written here because no installed library has a semantic boundary loss.
    """

    def __init__(self, ignore_index: int = IGNORE_INDEX, kernel_size: int = 3, eps: float = 1e-6) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("boundary kernel_size must be odd")
        self.ignore_index, self.k, self.eps = ignore_index, kernel_size, eps

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.k, stride=1, padding=self.k // 2)

    def targets(self, label: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
        valid = label != self.ignore_index
        onehot = F.one_hot(torch.where(valid, label, 0).clamp(max=num_classes - 1), num_classes).permute(0, 3, 1, 2).float()
        onehot = onehot * valid[:, None]
        present = self._pool(onehot).sum(dim=1)  # classes seen in the window
        return present > 1, valid

    def predicted(self, logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        prob = logits.float().softmax(dim=1)
        v = valid[:, None]
        hi = self._pool(torch.where(v, prob, -1.0))  # ignore neighbours never win the max ...
        lo = -self._pool(torch.where(v, -prob, -2.0))  # ... nor the min
        return (hi - lo).amax(dim=1)

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        target, valid = self.targets(label, logits.shape[1])
        pred = self.predicted(logits, valid).clamp(self.eps, 1 - self.eps)
        bce = F.binary_cross_entropy(pred, target.float(), reduction="none")
        return (bce * valid).sum() / valid.sum().clamp_min(1)  # mean over labelled pixels, 0 if none (no sync)


class CompositeLoss(nn.Module):
    """main(out, label) + sum(weight * term(out, label)) + aux_weight * main(aux, label) where the net has an aux head.

    Networks that bring their own criterion (Mask2Former) return ``model_losses`` in their outputs; its terms
    are added, and the extra terms apply to the network's semantic output ``out`` like for any other network.
    ``main_with_model_loss`` says whether the main term is then added as well: false for CE (the set loss is
    the recipe's counterpart of pixel CE), true for a main loss a study chose on purpose (``loss=lovasz``).
    """

    def __init__(self, main: nn.Module, extra: Mapping[str, Mapping[str, Any]] | None = None, aux_weight: float = 0.4, main_with_model_loss: bool = False) -> None:
        super().__init__()
        self.main = main
        self.extra = nn.ModuleDict({k: v["term"] for k, v in (extra or {}).items()})
        self.weights = {k: float(v.get("weight", 1.0)) for k, v in (extra or {}).items()}
        self.aux_weight = aux_weight
        self.main_with_model_loss = main_with_model_loss

    def forward(self, outputs: Mapping[str, Any], label: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = outputs["out"]
        label = label.long()  # batches carry compact uint8 labels; the criteria index with int64 (no copy if already)
        terms: dict[str, torch.Tensor] = {}
        model_losses: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = outputs.get("model_losses")
        if model_losses is not None:
            terms.update(model_losses(label))
        if model_losses is None or self.main_with_model_loss:
            terms["main"] = self.main(logits, label)
        for name, term in self.extra.items():
            terms[name] = self.weights[name] * term(logits, label)
        if "aux" in outputs:
            terms["aux_head"] = self.aux_weight * self.main(outputs["aux"], label)
        terms["loss"] = torch.stack(list(terms.values())).sum()
        return terms
