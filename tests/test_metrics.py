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


# ---------------------------------------------------------------------------- more hand-computed cases
from prove_lightning.evaluation.metrics import EXT, _counts_torch, confusion_counts, finalize_confusion  # noqa: E402


def test_hand_computed_image_with_ignore_absent_and_only_predicted_class() -> None:
    # 4 classes: 0 and 1 in gt; 2 only predicted; 3 absent everywhere; 255 ignored whatever is predicted there
    label = np.array([[0, 0, 0, 1, 1, 255], [0, 1, 1, 1, 255, 255]], dtype=np.uint8)
    pred = np.array([[0, 0, 2, 1, 0, 3], [0, 1, 2, 1, 2, 0]], dtype=np.uint8)
    cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(label), num_classes=4)
    # gt 0: pred 0,0,2,0 -> [3,0,1,0]; gt 1: pred 1,0,1,2,1 -> [1,3,1,0]
    assert cm.tolist() == [[3, 0, 1, 0], [1, 3, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    m = compute_metrics(pred, label, num_classes=4, class_names=["a", "b", "c", "d"])
    iou = {"a": 3 / (4 + 4 - 3), "b": 3 / (5 + 3 - 3), "c": 0.0}
    for k, v in iou.items():
        assert m["per_class"][k]["IoU"] == pytest.approx(100 * v)
    assert math.isnan(m["per_class"]["d"]["IoU"]) and math.isnan(m["per_class"]["c"]["Acc"])
    assert m["mIoU"] == pytest.approx(100 * sum(iou.values()) / 3)  # c (union 1) counts, d (union 0) does not
    assert m["n_classes_counted"] == 3 and m["n_pixels"] == 9 and m["n_images"] == 1
    gt = compute_metrics(pred, label, num_classes=4, class_names=["a", "b", "c", "d"], convention="gt_present")
    assert gt["mIoU"] == pytest.approx(100 * (iou["a"] + iou["b"]) / 2)
    assert gt["aAcc"] == m["aAcc"] == pytest.approx(100 * 6 / 9)
    assert m["mAcc"] == pytest.approx(100 * (3 / 4 + 3 / 5) / 2)


def test_empty_domain_matrix_and_all_ignore_image() -> None:
    label = np.full((3, 5), 255, dtype=np.uint8)
    pred = np.zeros((3, 5), dtype=np.uint8)
    m = compute_metrics(pred, label, num_classes=3, class_names=["a", "b", "c"])
    assert m["n_pixels"] == 0 and m["n_images"] == 1
    assert all(math.isnan(m[k]) for k in ("aAcc", "mIoU", "mAcc", "fwIoU"))
    assert all(math.isnan(v["IoU"]) for v in m["per_class"].values())


def test_unknown_convention_and_wrong_shapes_are_errors() -> None:
    with pytest.raises(ValueError, match="convention"):
        metrics_from_confusion(np.eye(2), ["a", "b"], "present")
    with pytest.raises(ValueError, match="class names"):
        metrics_from_confusion(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="shape"):
        compute_metrics([np.zeros((2, 3))], [np.zeros((3, 2))], num_classes=2)
    with pytest.raises(TypeError, match="integer"):
        confusion_matrix(torch.zeros(4), torch.zeros(4, dtype=torch.long), num_classes=2)


@pytest.mark.parametrize(
    ("pred", "label", "match"),
    [
        ([0, 1, 2], [0, 19, 1], r"label values .*\['19'\]"),  # a value in [C, 255) other than ignore
        ([0, 1, 2], [0, -1, 1], r"label values .*\['<0'\]"),
        ([0, 1, 2], [0, 300, 1], r"label values .*\['>255'\]"),
        ([0, 19, 2], [0, 1, 1], r"predictions outside .*\['19'\]"),
        ([0, -3, 2], [0, 1, 1], r"predictions outside .*\['<0'\]"),
        ([0, 999, 2], [0, 1, 1], r"predictions outside .*\['>255'\]"),
    ],
)
def test_out_of_range_values_raise_for_every_dtype_and_both_backends(pred: list, label: list, match: str) -> None:
    p, l = torch.tensor(pred), torch.tensor(label)
    for counts in (confusion_counts(p, l), _counts_torch(p, l)):
        with pytest.raises(ValueError, match=match):
            finalize_confusion(counts, 19)


def test_prediction_on_ignore_pixels_is_not_an_error() -> None:
    # the prediction under an ignore label never counts, whatever its value
    cm = confusion_matrix(torch.tensor([0, 200, 19]), torch.tensor([0, 255, 255]), num_classes=19)
    assert cm.sum() == 1 and cm[0, 0] == 1


# ---------------------------------------------------------------------------- independent computation
def official_cityscapes_style(pred: np.ndarray, gt: np.ndarray, n: int, ignore: int = 255) -> dict:
    """Per-class TP / FP / FN counted class by class with boolean masks, as cityscapesScripts'
    evalPixelLevelSemanticLabeling defines them: FP only on pixels whose ground truth is not ignored; a class
    with TP + FP + FN == 0 is NaN and left out of the mean. Shares no code with prove_lightning.evaluation."""
    valid = gt != ignore
    iou, acc, gt_count = [], [], []
    for c in range(n):
        tp = int(np.sum((gt == c) & (pred == c)))
        fn = int(np.sum((gt == c) & (pred != c)))
        fp = int(np.sum((pred == c) & (gt != c) & valid))
        denom = tp + fp + fn
        iou.append(tp / denom if denom else float("nan"))
        acc.append(tp / (tp + fn) if tp + fn else float("nan"))
        gt_count.append(tp + fn)
    iou_a, gt_a = np.array(iou), np.array(gt_count)
    total = int(valid.sum())
    correct = int(np.sum((gt == pred) & valid))
    return {
        "iou": iou_a,
        "mIoU": float(np.nanmean(iou_a)),
        "mIoU_gt_present": float(np.mean(iou_a[gt_a > 0])),
        "mAcc": float(np.nanmean(np.array(acc))),
        "aAcc": correct / total,
        "fwIoU": float(np.nansum(gt_a / total * np.nan_to_num(iou_a))),
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
def test_equals_independent_computation_on_random_data(dtype: type) -> None:
    rng = np.random.default_rng(123)
    n = 19
    preds, labels = [], []
    for k in range(5):
        h, w = rng.integers(7, 40, size=2)
        gt = rng.integers(0, n - 3, size=(h, w))  # classes 16..18 never in gt
        gt[rng.random((h, w)) < 0.15] = 255
        pr = rng.integers(0, n - 1, size=(h, w))  # class 18 never predicted either: union 0 -> NaN
        pr[rng.random((h, w)) < 0.5] = 0  # many pixels of other classes predicted as class 0
        preds.append(pr.astype(dtype))
        labels.append(gt.astype(dtype) if dtype != np.uint8 else gt.astype(np.uint8))
    ref = official_cityscapes_style(np.concatenate([p.ravel() for p in preds]).astype(np.int64), np.concatenate([g.ravel() for g in labels]).astype(np.int64), n)
    ours = compute_metrics(preds, labels, num_classes=n)
    ours_iou = np.array([v["IoU"] for v in ours["per_class"].values()]) / 100
    np.testing.assert_allclose(ours_iou, ref["iou"], rtol=1e-12, equal_nan=True)
    assert math.isnan(ref["iou"][18]) and not math.isnan(ref["iou"][17])  # only-predicted class 16/17 counts, 18 does not
    for key in ("mIoU", "mAcc", "aAcc", "fwIoU"):
        assert ours[key] == pytest.approx(100 * ref[key], rel=1e-12), key
    gtp = compute_metrics(preds, labels, num_classes=n, convention="gt_present")
    assert gtp["mIoU"] == pytest.approx(100 * ref["mIoU_gt_present"], rel=1e-12)
    assert gtp["mIoU"] != pytest.approx(ours["mIoU"])  # the two conventions differ on this data


def test_device_path_and_numpy_path_agree_and_sum_like_matrices() -> None:
    rng = np.random.default_rng(7)
    total = torch.zeros(19, 19, dtype=torch.int64)
    summed = torch.zeros(EXT, EXT, dtype=torch.int64)
    for _ in range(4):
        gt = torch.from_numpy(rng.integers(0, 19, (33, 17)).astype(np.uint8))
        gt[torch.from_numpy(rng.random((33, 17)) < 0.1)] = 255
        pr = torch.from_numpy(rng.integers(0, 19, (33, 17)).astype(np.uint8))
        a, b = confusion_counts(pr, gt), _counts_torch(pr, gt)
        assert torch.equal(a, b)
        assert torch.equal(confusion_counts(pr.long(), gt.long()), a)
        total += confusion_matrix(pr, gt, 19)
        summed += a
    assert torch.equal(finalize_confusion(summed, 19), total)
    # a batch of per-domain histograms finalizes elementwise
    stacked = torch.stack([summed, torch.zeros_like(summed)])
    assert torch.equal(finalize_confusion(stacked, 19)[0], total) and finalize_confusion(stacked, 19)[1].sum() == 0


def test_counts_added_in_place_on_both_paths() -> None:
    rng = np.random.default_rng(3)
    gt = torch.from_numpy(rng.integers(0, 19, (300, 700)).astype(np.uint8))  # > one counting chunk
    pr = torch.from_numpy(rng.integers(0, 19, (300, 700)).astype(np.uint8))
    once = confusion_counts(pr, gt)
    for counter in (confusion_counts, _counts_torch):
        acc = torch.zeros(EXT, EXT, dtype=torch.int64)
        assert counter(pr, gt, out=acc) is acc
        counter(pr.long(), gt.long(), out=acc)
        assert torch.equal(acc, 2 * once)
    with pytest.raises(ValueError, match="out must be"):
        confusion_counts(pr, gt, out=torch.zeros(EXT, EXT, dtype=torch.int32))


def _old_counts(pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Today's (before issue 15) counting, written out: index = (label+1) * EXT + (pred+1) over clipped values."""
    pa = np.clip(pred.astype(np.int64).ravel(), -1, 256) + 1
    la = np.clip(label.astype(np.int64).ravel(), -1, 256) + 1
    return np.bincount(la * EXT + pa, minlength=EXT * EXT).reshape(EXT, EXT)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.int32, torch.int8])
def test_compact_counting_is_bit_exact_with_the_old_counting(dtype: torch.dtype) -> None:
    """uint8 labels + uint8 argmax (what train/eval pass, via cv2.calcHist) and wider dtypes give the old counts,
    on random data with ignore 255, odd sizes and a non-contiguous view; int8 -1 stays '<0', never becomes 255."""
    g = torch.Generator().manual_seed(7)
    label = torch.randint(0, 19, (3, 257, 515), generator=g)
    label[torch.rand(label.shape, generator=g) < 0.2] = 255
    pred = torch.randint(0, 19, label.shape, generator=g)
    for i in range(3):
        p, l = pred[i], label[i]
        if dtype == torch.int8:
            p, l = p.clone(), l.clone()
            l[l == 255] = -1
        p, l = p.to(dtype), l.to(dtype)
        want = _old_counts(p.numpy(), l.numpy())
        assert np.array_equal(confusion_counts(p, l).numpy(), want)
        assert np.array_equal(confusion_counts(p[:, ::3], l[:, ::3]).numpy(), _old_counts(p[:, ::3].numpy(), l[:, ::3].numpy()))
        assert np.array_equal(_counts_torch(p, l).numpy(), want)
    big = torch.full((1 << 12, 1 << 12), 3, dtype=torch.uint8)  # 2**24 pixels in one bin: float32's exact limit
    assert int(confusion_counts(big, big)[4, 4]) == 1 << 24
