"""Segmentation metrics from dataset-level confusion matrices.

Conventions (stated in every result): IoU_c = TP / (TP + FP + FN); mIoU = mean over classes whose
union > 0 ("union", as MMSeg and the official Cityscapes evaluation) or over classes present in the
ground truth ("gt_present", as the old PROVE fine-grained test). Pixels labelled ignore never count;
predictions outside [0, C) are an error, not clipped. Values are percentages.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from prove_lightning.data.labels import CITYSCAPES_CLASSES, IGNORE_INDEX

CONVENTIONS = ("union", "gt_present")


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """(C, C) int64 counts, rows = ground truth, columns = prediction; ignore pixels dropped."""
    pred = pred.reshape(-1)
    label = label.reshape(-1)
    valid = label != ignore_index
    if not bool(valid.all()):
        pred, label = pred[valid], label[valid]
    if label.numel() and (int(label.max()) >= num_classes or int(label.min()) < 0):
        raise ValueError(f"label values outside [0, {num_classes}) and != {ignore_index}: {torch.unique(label).tolist()[:10]}")
    if pred.numel() and (int(pred.max()) >= num_classes or int(pred.min()) < 0):
        raise ValueError(f"predictions outside [0, {num_classes}): {torch.unique(pred).tolist()[:10]}")
    idx = label.to(torch.int64) * num_classes + pred.to(torch.int64)
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def metrics_from_confusion(
    cm: np.ndarray | torch.Tensor,
    class_names: Sequence[str] = CITYSCAPES_CLASSES,
    convention: str = "union",
) -> dict:
    """aAcc, mIoU, mAcc, fwIoU and per-class IoU / Acc (percent, NaN where undefined) from one confusion matrix."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown mIoU convention '{convention}'; use one of {CONVENTIONS}")
    cm = cm.detach().cpu().numpy() if isinstance(cm, torch.Tensor) else np.asarray(cm)
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    gt = cm.sum(axis=1)
    pred = cm.sum(axis=0)
    union = gt + pred - tp
    total = gt.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(gt > 0, tp / gt, np.nan)
    counted = union > 0 if convention == "union" else gt > 0
    miou = float(np.mean(iou[counted])) * 100 if counted.any() else float("nan")
    macc_mask = gt > 0
    macc = float(np.mean(acc[macc_mask])) * 100 if macc_mask.any() else float("nan")
    aacc = float(tp.sum() / total) * 100 if total > 0 else float("nan")
    fwiou = float(np.nansum((gt / total) * np.nan_to_num(iou))) * 100 if total > 0 else float("nan")
    out = {
        "aAcc": aacc,
        "mIoU": miou,
        "mAcc": macc,
        "fwIoU": fwiou,
        "n_pixels": int(total),
        "miou_convention": convention,
        "per_class": {
            name: {
                "IoU": float(iou[i]) * 100 if not np.isnan(iou[i]) else float("nan"),
                "Acc": float(acc[i]) * 100 if not np.isnan(acc[i]) else float("nan"),
                "area_intersect": int(tp[i]),
                "area_union": int(union[i]),
                "area_pred": int(pred[i]),
                "area_label": int(gt[i]),
            }
            for i, name in enumerate(class_names)
        },
    }
    return out


def compute_metrics(
    preds: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[np.ndarray] | np.ndarray,
    num_classes: int = len(CITYSCAPES_CLASSES),
    class_names: Sequence[str] | None = None,
    ignore_index: int = IGNORE_INDEX,
    convention: str = "union",
) -> dict:
    """Every metric from arrays of predictions and labels (one array or a list of per-image arrays).

    For notebooks and external checks: accumulates one confusion matrix over all images, then
    :func:`metrics_from_confusion`.
    """
    if isinstance(preds, np.ndarray) and preds.ndim == 2:
        preds, labels = [preds], [labels]
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    n = 0
    for p, l in zip(preds, labels, strict=True):
        if np.shape(p) != np.shape(l):
            raise ValueError(f"prediction shape {np.shape(p)} != label shape {np.shape(l)}")
        cm += confusion_matrix(torch.as_tensor(np.asarray(p)), torch.as_tensor(np.asarray(l)), num_classes, ignore_index)
        n += 1
    names = class_names or (CITYSCAPES_CLASSES if num_classes == len(CITYSCAPES_CLASSES) else [str(i) for i in range(num_classes)])
    out = metrics_from_confusion(cm, names, convention)
    out["n_images"] = n
    return out
