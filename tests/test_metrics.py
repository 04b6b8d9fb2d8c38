"""Metric values on hand-computed confusion matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prove_lightning.evaluation.metrics import compute_metrics, confusion_matrix, metrics_from_confusion


def test_confusion_matrix_counts_and_ignores_255() -> None:
    label = torch.tensor([[0, 0, 1, 255], [2, 2, 1, 255]])
    pred = torch.tensor([[0, 1, 1, 0], [2, 0, 1, 2]])
    cm = confusion_matrix(pred, label, num_classes=3)
    expected = torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert torch.equal(cm, expected)
    assert cm.sum() == 6  # the two ignore pixels never count


def test_hand_computed_metrics_union_convention() -> None:
    # rows = gt, cols = pred; class 2 only predicted, never in gt; class 3 absent everywhere
    cm = np.array(
        [
            [8, 2, 0, 0],
            [1, 4, 1, 0],
            [0, 0, 0, 0],
            [0, 0, 0, 0],
        ]
    )
    m = metrics_from_confusion(cm, ["a", "b", "c", "d"], "union")
    iou_a = 8 / (10 + 9 - 8)  # 8/11
    iou_b = 4 / (6 + 6 - 4)  # 4/8
    iou_c = 0 / (0 + 1 - 0)
    assert m["per_class"]["a"]["IoU"] == pytest.approx(100 * iou_a)
    assert m["per_class"]["b"]["IoU"] == pytest.approx(100 * iou_b)
    assert m["per_class"]["c"]["IoU"] == pytest.approx(0.0)
    assert math.isnan(m["per_class"]["d"]["IoU"])
    # union > 0: a, b and the only-predicted c count; d (union 0) does not
    assert m["mIoU"] == pytest.approx(100 * (iou_a + iou_b + iou_c) / 3)
    assert m["aAcc"] == pytest.approx(100 * 12 / 16)
    assert m["mAcc"] == pytest.approx(100 * (8 / 10 + 4 / 6) / 2)
    assert m["fwIoU"] == pytest.approx(100 * (10 / 16 * iou_a + 6 / 16 * iou_b))


def test_gt_present_convention_drops_only_predicted_class() -> None:
    cm = np.array([[8, 2, 0], [1, 4, 1], [0, 0, 0]])
    m = metrics_from_confusion(cm, ["a", "b", "c"], "gt_present")
    assert m["mIoU"] == pytest.approx(100 * (8 / 11 + 4 / 8) / 2)


def test_empty_domain_gives_nan_not_zero() -> None:
    m = metrics_from_confusion(np.zeros((3, 3)), ["a", "b", "c"])
    assert math.isnan(m["mIoU"]) and math.isnan(m["aAcc"])


def test_dataset_level_not_mean_of_images() -> None:
    # image 1: perfect on a tiny class-1 region; image 2: all wrong on a big class-1 region
    l1 = np.array([[0, 0, 0, 1]]); p1 = l1.copy()
    l2 = np.ones((1, 12), dtype=np.int64); p2 = np.zeros((1, 12), dtype=np.int64)
    m = compute_metrics([p1, p2], [l1, l2], num_classes=2, class_names=["a", "b"])
    # dataset-level: class b: tp 1, gt 13, pred 1 -> IoU 1/13; class a: tp 3, gt 3, pred 15 -> 3/15
    assert m["per_class"]["b"]["IoU"] == pytest.approx(100 / 13)
    assert m["mIoU"] == pytest.approx(100 * (3 / 15 + 1 / 13) / 2)
    assert m["n_images"] == 2


def test_out_of_range_prediction_is_an_error_not_clipped() -> None:
    with pytest.raises(ValueError, match="predictions outside"):
        confusion_matrix(torch.tensor([0, 5]), torch.tensor([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="label values outside"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 7]), num_classes=3)
