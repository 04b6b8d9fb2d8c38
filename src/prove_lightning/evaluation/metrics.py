"""Segmentation metrics from dataset-level confusion matrices.

Conventions (stated in every result): IoU_c = TP / (TP + FP + FN); mIoU = mean over classes whose
union > 0 ("union", as MMSeg and the official Cityscapes evaluation) or over classes present in the
ground truth ("gt_present", as the old PROVE fine-grained test). Pixels labelled ignore never count;
label values outside [0, C) other than ignore, and predictions outside [0, C) on counted pixels, are an
error, never clipped. Values are percentages.

Counting is split in two so that accumulation never waits for the device:
:func:`confusion_counts` is a class-agnostic joint histogram of (label value, prediction value) that
never synchronises; :func:`finalize_confusion` turns a (summed) histogram into the (C, C) matrix and
raises on out-of-range values. :func:`confusion_matrix` does both.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

from prove_lightning.labelspace import CITYSCAPES_CLASSES, IGNORE_INDEX

CONVENTIONS = ("union", "gt_present")

#: side of the joint histogram: bin 0 = values < 0, bins 1..256 = values 0..255, bin 257 = values > 255
EXT = 258


#: pixels per cv2.calcHist call: its float32 bins count exactly up to 2**24
CALC_CHUNK = 1 << 24


def _in_byte_range(x: np.ndarray) -> bool:
    """All values in 0..255 (so a cast to uint8 is exact)."""
    if x.dtype == np.uint8 or x.dtype.kind == "b" or x.size == 0:
        return True
    if x.dtype.kind == "u":
        return int(x.max()) <= 255
    return int(x.min()) >= 0 and int(x.max()) <= 255


def _hist_u8(p: np.ndarray, l: np.ndarray) -> np.ndarray:
    """(256, 256) int64 joint histogram [label, pred] of two flat uint8 arrays: cv2.calcHist, exact in float32
    per call of <= 2**24 pixels (3x np.bincount on a 65,536-bin index, with no index array at all)."""
    hist = np.zeros((256, 256), dtype=np.int64)
    for start in range(0, p.size, CALC_CHUNK):
        pc = p[start : start + CALC_CHUNK].reshape(1, -1)
        lc = l[start : start + CALC_CHUNK].reshape(1, -1)
        hist += cv2.calcHist([lc, pc], [0, 1], None, [256, 256], [0, 256, 0, 256]).astype(np.int64)
    return hist


def _counts_numpy(pred: np.ndarray, label: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """CPU joint histogram added into ``out`` (EXT, EXT).

    uint8 inputs (what training and eval pass) go straight to cv2.calcHist; wider integers are checked to lie
    in 0..255 and narrowed to uint8 first; values outside take an exact slow path with under/overflow bins.
    Single-threaded on purpose: on a shared 2-core machine torch's OpenMP kernels wait for a busy second
    thread and run 10x slower.
    """
    if out is None:
        out = np.zeros((EXT, EXT), dtype=np.int64)
    p, l = np.ascontiguousarray(pred).reshape(-1), np.ascontiguousarray(label).reshape(-1)
    if p.dtype != np.uint8 or l.dtype != np.uint8:
        if _in_byte_range(p) and _in_byte_range(l):
            p, l = p.astype(np.uint8), l.astype(np.uint8)
        else:  # values outside 0..255 (an error downstream): exact slow path with under/overflow bins
            pa = np.clip(p.astype(np.int64), -1, 256) + 1
            la = np.clip(l.astype(np.int64), -1, 256) + 1
            out += np.bincount(la * EXT + pa, minlength=EXT * EXT).reshape(EXT, EXT)
            return out
    out[1:257, 1:257] += _hist_u8(p, l)
    return out


def _counts_torch(pred: torch.Tensor, label: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Device joint histogram added into ``out`` without host synchronisation (scatter into fixed bins; no .max(), no bincount)."""
    def bins(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            return x.to(torch.int64) + 1
        return x.to(torch.int64).clamp(-1, 256) + 1

    idx = (bins(label) * EXT + bins(pred)).reshape(-1)
    if out is None:
        out = torch.zeros(EXT, EXT, dtype=torch.int64, device=idx.device)
    flat = out.view(EXT * EXT)
    flat.index_put_((idx,), torch.ones((), dtype=torch.int64, device=idx.device).expand(idx.numel()), accumulate=True)
    return out


def confusion_counts(pred: torch.Tensor, label: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Joint histogram of (label value, prediction value) as an (EXT, EXT) int64 tensor on the inputs' device.

    Entry [l + 1, p + 1] counts pixels with label l and prediction p for values 0..255; row / column 0
    collects negative values and EXT - 1 values above 255. It knows no classes and never raises or syncs,
    so it can be summed over batches, domains and DDP ranks before :func:`finalize_confusion` checks it.
    With ``out`` (a contiguous (EXT, EXT) int64 tensor on the same device) the counts are added into it.
    """
    if pred.shape != label.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != label shape {tuple(label.shape)}")
    if pred.dtype.is_floating_point or label.dtype.is_floating_point:
        raise TypeError(f"predictions and labels must be integer tensors, got {pred.dtype} and {label.dtype}")
    if out is not None and (out.shape != (EXT, EXT) or out.dtype != torch.int64 or not out.is_contiguous()):
        raise ValueError(f"out must be a contiguous ({EXT}, {EXT}) int64 tensor")
    if pred.device.type == "cpu" and label.device.type == "cpu" and (out is None or out.device.type == "cpu"):
        counts = _counts_numpy(pred.detach().numpy(), label.detach().numpy(), None if out is None else out.numpy())
        return out if out is not None else torch.from_numpy(counts)
    return _counts_torch(pred, label.to(pred.device), out)


def _value_names(idx: np.ndarray) -> list[str]:
    return ["<0" if i == 0 else ">255" if i == EXT - 1 else str(int(i) - 1) for i in idx]


def finalize_confusion(counts: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """(..., EXT, EXT) histograms -> (..., C, C) int64 confusion matrices (rows = ground truth, columns = prediction).

    Raises ValueError, with the offending values and pixel counts, when a label is neither a class nor
    ``ignore_index`` or a prediction on a counted pixel is not a class.
    """
    if not 0 < num_classes <= 256:
        raise ValueError(f"num_classes must be in 1..256, got {num_classes}")
    if not 0 <= ignore_index <= 255:
        raise ValueError(f"ignore_index must be in 0..255, got {ignore_index}")
    flat = counts.reshape(-1, EXT, EXT).cpu().numpy().sum(0)  # numpy: no OpenMP wait on a shared machine
    rows = np.ones(EXT, dtype=bool)
    rows[1 : num_classes + 1] = False
    rows[ignore_index + 1] = False
    bad_rows = np.flatnonzero(rows & (flat.sum(1) > 0))
    if bad_rows.size:
        n = int(flat[bad_rows].sum())
        raise ValueError(
            f"label values outside [0, {num_classes}) and != {ignore_index}: {_value_names(bad_rows)[:10]} ({n} pixels); "
            f"check the dataset's label mapping"
        )
    valid = slice(1, num_classes + 1)
    cols = flat[valid].sum(0)
    cols[valid] = 0
    bad_cols = np.flatnonzero(cols)
    if bad_cols.size:
        raise ValueError(f"predictions outside [0, {num_classes}): {_value_names(bad_cols)[:10]} ({int(cols.sum())} pixels)")
    return counts[..., valid, valid].contiguous()


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """(C, C) int64 counts, rows = ground truth, columns = prediction; ignore pixels dropped; out-of-range values raise."""
    return finalize_confusion(confusion_counts(pred, label), num_classes, ignore_index)


def metrics_from_confusion(
    cm: np.ndarray | torch.Tensor,
    class_names: Sequence[str] = CITYSCAPES_CLASSES,
    convention: str = "union",
) -> dict:
    """aAcc, mIoU, mAcc, fwIoU and per-class IoU / Acc (percent, NaN where undefined) from one confusion matrix."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown mIoU convention '{convention}'; use one of {CONVENTIONS}")
    cm = cm.detach().cpu().numpy() if isinstance(cm, torch.Tensor) else np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ValueError(f"confusion matrix of shape {cm.shape} does not match {len(class_names)} class names")
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
        "n_classes_counted": int(counted.sum()),
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
    """Every metric from arrays of predictions and labels (one (H, W) array, an (N, H, W) stack, or a list).

    For notebooks and external checks, e.g. on PNGs written with ``save_predictions=true``::

        from prove_lightning.evaluation import compute_metrics
        m = compute_metrics(preds, labels)          # trainIds 0..18, ignore 255
        m["mIoU"], m["per_class"]["road"]["IoU"]

    Accumulates one dataset-level confusion matrix over all images (not a mean of per-image scores), then
    :func:`metrics_from_confusion`. Returns its dict plus ``n_images``.
    """
    if isinstance(preds, np.ndarray) and preds.ndim == 2:
        preds, labels = [preds], [labels]
    counts = np.zeros((EXT, EXT), dtype=np.int64)
    n = 0
    for p, l in zip(preds, labels, strict=True):
        p, l = np.asarray(p), np.asarray(l)
        if p.shape != l.shape:
            raise ValueError(f"prediction shape {p.shape} != label shape {l.shape} (image {n})")
        if p.dtype.kind not in "iub" or l.dtype.kind not in "iub":
            raise TypeError(f"predictions and labels must be integer arrays, got {p.dtype} and {l.dtype} (image {n})")
        _counts_numpy(p, l, counts)
        n += 1
    cm = finalize_confusion(torch.from_numpy(counts), num_classes, ignore_index)
    names = class_names or (CITYSCAPES_CLASSES if num_classes == len(CITYSCAPES_CLASSES) else [str(i) for i in range(num_classes)])
    out = metrics_from_confusion(cm, names, convention)
    out["n_images"] = n
    return out
