"""std_* ops keep image and label aligned (an image whose colour encodes its label), fill moved-in label pixels with
255, apply with their probability, are pure functions of their seeds, change training compared with baseline, and
apply to real and generated samples alike."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from prove_lightning.config import instantiate
from prove_lightning.data.augment import AutoAugment, CutMix, MixUp, Photometric, RandAugment, ops
from prove_lightning.data.dataset import SegDataset
from prove_lightning.data.labels import IGNORE_INDEX, colorize
from torch.utils.data import default_collate

H, W = 64, 96


def scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A label of large axis-aligned and slanted regions, and an image whose colour is the class's palette colour."""
    rng = np.random.default_rng(seed)
    label = np.full((H, W), int(rng.integers(19)), np.uint8)
    for _ in range(5):
        y0, x0 = int(rng.integers(0, H - 16)), int(rng.integers(0, W - 16))
        label[y0 : y0 + int(rng.integers(12, 40)), x0 : x0 + int(rng.integers(12, 50))] = rng.integers(19)
    cv2.fillPoly(label, [np.array([[10, 60], [50, 20], [80, 55]], np.int32)], int(rng.integers(19)))
    return colorize(label), label


def misaligned_fraction(image: np.ndarray, label: np.ndarray) -> float:
    """Fraction of interior pixels (5x5 neighbourhood of one labelled class) whose colour is not their class's typical colour.

    Colour ops map colours pixel-wise, so after any op sequence a class's interior still has one colour per class;
    a label moved without its image (or the reverse) puts other classes' colours inside a class.
    """
    k = np.ones((5, 5), np.uint8)
    interior = (cv2.erode(label, k) == cv2.dilate(label, k)) & (label != IGNORE_INDEX)
    bad = total = 0
    for c in np.unique(label[interior]):
        px = image[interior & (label == c)].astype(np.int32)
        typical = np.median(px, axis=0)
        bad += int((np.abs(px - typical).max(axis=1) > 12).sum())
        total += len(px)
    assert total > 0.2 * H * W, "test scene has too little interior"
    return bad / total


def test_alignment_check_catches_a_label_moved_without_its_image() -> None:
    image, label = scene(0)
    assert misaligned_fraction(image, label) == 0.0
    assert misaligned_fraction(image, np.roll(label, 7, axis=1)) > 0.05


@pytest.mark.parametrize("name", ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"])
def test_geometric_ops_move_the_label_with_the_image_and_fill_255(name: str) -> None:
    image, label = scene(1)
    rng = np.random.default_rng(0)
    img2, lab2, what = ops.run(name, image, label, 9, 10, rng)
    assert what.startswith(name) and lab2.dtype == label.dtype and lab2.shape == label.shape
    assert not np.array_equal(lab2, label), "the op did not move anything"
    filled = lab2 == IGNORE_INDEX
    assert filled.any(), "pixels moved in from outside must be ignore (255), never a class"
    assert (img2[filled].max(axis=1) <= 40).mean() > 0.9  # the image there is the black fill too
    assert set(np.unique(lab2)) <= set(np.unique(label)) | {IGNORE_INDEX}  # nearest: no invented classes
    assert misaligned_fraction(img2, lab2) < 0.01


@pytest.mark.parametrize("name", ["Identity", "Brightness", "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize", "Invert"])
def test_colour_ops_leave_the_label(name: str) -> None:
    image, label = scene(2)
    img2, lab2, _ = ops.run(name, image, label, 9, 10, np.random.default_rng(0))
    assert np.array_equal(lab2, label) and img2.shape == image.shape and img2.dtype == np.uint8
    if name in ("Brightness", "Contrast", "Posterize", "Solarize", "Invert"):
        assert not np.array_equal(img2, image), f"{name} at magnitude 9 changed nothing"


def test_magnitudes_follow_the_papers_bins() -> None:
    assert ops.value("Rotate", 9, 10, H, W) == pytest.approx(30.0)
    assert ops.value("Rotate", 9, 31, H, W) == pytest.approx(9.0)
    assert ops.value("TranslateX", 9, 10, H, W) == pytest.approx(150 / 331 * W)
    assert ops.value("Solarize", 0, 10, H, W) == 255 and ops.value("Solarize", 9, 10, H, W) == 0
    assert [ops.value("Posterize", m, 10, H, W) for m in range(10)] == [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]
    assert ops.value("Equalize", 5, 10, H, W) is None


@pytest.mark.parametrize("op", [Photometric(p=1.0), AutoAugment(p=1.0), RandAugment(p=1.0)], ids=["photometric", "autoaugment", "randaugment"])
def test_sample_ops_keep_image_and_label_aligned(op) -> None:  # noqa: ANN001
    moved = 0
    for seed in range(24):
        image, label = scene(seed)
        out = op({"image": image.copy(), "label": label.copy()}, np.random.default_rng(seed))
        # recorded exactly when the sample changed (AutoAugment's coins can all come up tails)
        assert out["augment"].startswith(f"{op.name}:") == (not np.array_equal(out["image"], image) or not np.array_equal(out["label"], label))
        assert misaligned_fraction(out["image"], out["label"]) < 0.02, out["augment"]
        moved += not np.array_equal(out["label"], label)
    if op.name != "photometric":
        assert moved >= 3, "no geometric op happened in 24 draws"
    else:
        assert moved == 0


def test_the_autoaugment_record_counts_the_samples_it_changed_never_none() -> None:
    """issue 12: audit.json reported 12 AutoAugment applications where 8 images changed, one as 'autoaugment:none'."""
    op = AutoAugment(p=1.0)
    recorded = changed = 0
    for seed in range(60):
        image, label = scene(seed % 6)
        out = op({"image": image.copy(), "label": label.copy()}, np.random.default_rng(seed))
        assert "none" not in out["augment"] and not out["augment"].endswith(":")
        recorded += bool(out["augment"])
        changed += not (np.array_equal(out["image"], image) and np.array_equal(out["label"], label))
    assert recorded == changed and 10 < changed < 60  # some sub-policies draw no op (p=1 is the op's own coin only)
    image, label = scene(0)
    ident = RandAugment(p=1.0, num_ops=1)
    outs = [ident({"image": image.copy(), "label": label.copy()}, np.random.default_rng(s)) for s in range(80)]
    assert all(("Identity" in o["augment"]) is False for o in outs)  # Identity never changes a sample


def test_probability_is_per_sample_and_configurable() -> None:
    image, label = scene(3)
    none = RandAugment(p=0.0)
    out = none({"image": image.copy(), "label": label.copy()}, np.random.default_rng(0))
    assert out["augment"] == "" and np.array_equal(out["image"], image)
    half = RandAugment(p=0.5)
    applied = sum(bool(half({"image": image, "label": label}, np.random.default_rng(s))["augment"]) for s in range(200))
    assert 70 <= applied <= 130
    with pytest.raises(Exception, match="probability"):
        RandAugment(p=1.5)


def batch_of(seeds: list[int]) -> dict:
    samples = []
    for s in seeds:
        image, label = scene(s)
        samples.append({"image": torch.from_numpy(image).permute(2, 0, 1).contiguous(), "label": torch.from_numpy(label.astype(np.int64)), "augment": "", "generated": s % 2 == 1})
    return default_collate(samples)


def test_cutmix_pastes_per_sample_boxes_with_their_labels() -> None:
    batch = batch_of([10, 11, 12, 13])
    before = {k: v.clone() for k, v in batch.items() if torch.is_tensor(v)}
    out = CutMix(p=1.0, seed=1)(batch, step=5)
    boxes = set()
    for i in range(4):
        img = out["image"][i].permute(1, 2, 0).numpy()
        assert np.array_equal(img, colorize(out["label"][i].numpy().astype(np.uint8))), "pasted image and label disagree"
        m = re.match(r"cutmix:box=\((\d+),(\d+),(\d+),(\d+)\)<-(\d)", out["augment"][i])
        assert m, out["augment"][i]
        y0, x0, y1, x1, j = map(int, m.groups())
        assert j != i and torch.equal(out["label"][i, y0:y1, x0:x1], before["label"][j, y0:y1, x0:x1])
        boxes.add((y0, x0, y1, x1))
    assert len(boxes) > 1, "one box for the whole batch (the old defect)"


def test_batch_ops_are_pure_functions_of_seed_and_step() -> None:
    for op in (CutMix(p=0.5, seed=3), MixUp(p=0.5, seed=3)):
        a = op(batch_of([1, 2, 3, 4]), step=7)
        b = op(batch_of([1, 2, 3, 4]), step=7)
        c = op(batch_of([1, 2, 3, 4]), step=8)
        assert torch.equal(a["image"], b["image"]) and a["augment"] == b["augment"]
        assert a["augment"] != c["augment"]


@pytest.mark.parametrize("mode", ["dominant", "agree"])
def test_mixup_label_handling(mode: str) -> None:
    batch = batch_of([20, 21, 22, 23])
    before = {k: v.clone() for k, v in batch.items() if torch.is_tensor(v)}
    out = MixUp(p=1.0, seed=0, label_mode=mode)(batch, step=0)
    for i in range(4):
        lam, j = re.match(r"mixup:lam=([\d.]+)<-(\d)", out["augment"][i]).groups()
        lam, j = float(lam), int(j)
        expected = (lam * before["image"][i].float() + (1 - lam) * before["image"][j].float()).round()
        assert (out["image"][i].float() - expected).abs().max() <= 1  # lam is printed to 3 decimals
        if mode == "dominant":
            assert lam >= 0.5 and torch.equal(out["label"][i], before["label"][i])
        else:
            agree = before["label"][i] == before["label"][j]
            assert torch.equal(out["label"][i][agree], before["label"][i][agree])
            assert (out["label"][i][~agree] == IGNORE_INDEX).all()


# ---------------------------------------------------------------------------------------------- through the config
def loader_batches(cfg, steps: int = 3) -> list[dict]:  # noqa: ANN001
    dm = instantiate(cfg.data)
    hooks = instantiate(cfg.module.batch_hooks)
    it = iter(dm.train_dataloader())
    out = []
    for step in range(steps):
        batch = next(it)
        for hook in hooks:
            batch = hook(batch, step)
        out.append(batch)
    return out


STD = ["photometric", "autoaugment", "randaugment", "cutmix", "mixup"]


@pytest.mark.parametrize("name", STD)
def test_std_strategy_alone_changes_training_and_only_where_it_says(name: str, train_cfg) -> None:
    base = loader_batches(train_cfg())
    cfg = train_cfg(f"strategy=std_{name}")
    assert cfg.augment.name == name and cfg.run_relpath.split("/")[1] == f"std_{name}"
    std = loader_batches(cfg)
    touched = 0
    for b, s in zip(base, std):
        for i, record in enumerate(s["augment"]):
            same = torch.equal(b["image"][i], s["image"][i]) and torch.equal(b["label"][i], s["label"][i])
            if record:
                touched += 1
            else:
                assert same, "a sample the op did not touch differs from baseline"
    assert touched > 0 and any(not torch.equal(b["image"], s["image"]) for b, s in zip(base, std))
    dm = instantiate(cfg.data)
    audit_ops = [d["op"] for d in dm.describe()["sample_augment"]] + [h.describe()["op"] for h in instantiate(cfg.module.batch_hooks)]
    assert audit_ops == [name]


def test_std_preset_and_explicit_augment_name_runs_honestly(train_cfg) -> None:
    assert train_cfg("strategy=std_cutmix").run_relpath.split("/")[1] == "std_cutmix"
    assert train_cfg("strategy=std_cutmix", "augment=none").run_relpath.split("/")[1] == "std_cutmix+none"
    assert train_cfg("strategy=baseline", "augment=mixup").run_relpath.split("/")[1] == "baseline+mixup"


def with_generated_standins(dm) -> int:  # noqa: ANN001
    """Stand-in for gen_* mixing: ToyCity adverse-domain training images marked as generated, appended to the pool."""
    dm.index()
    adverse = [r for r in dm.source.records("train") if r.domain != "clear_day"][:8]
    dm.train_records = dm.train_records + [dataclasses.replace(r, generated=True, method="standin") for r in adverse]
    return len(adverse)


@pytest.mark.parametrize("name", ["autoaugment", "cutmix"])
def test_std_applies_to_real_and_generated_samples_alike(name: str, train_cfg) -> None:
    cfg = train_cfg(f"augment={name}", "data.batch_size=8")
    dm = instantiate(cfg.data)
    with_generated_standins(dm)
    hooks = instantiate(cfg.module.batch_hooks)
    per_pool = {True: 0, False: 0}
    for step, batch in zip(range(6), dm.train_dataloader()):
        for hook in hooks:
            batch = hook(batch, step)
        for gen, record in zip(batch["generated"].tolist(), batch["augment"]):
            per_pool[bool(gen)] += bool(record)
    assert per_pool[True] > 0 and per_pool[False] > 0, per_pool


def test_sample_hooks_are_deterministic_per_item(train_cfg) -> None:
    cfg = train_cfg("strategy=std_randaugment")
    dm = instantiate(cfg.data)
    dm.index()
    ds = SegDataset(dm.train_records, dm.label_mappings, dm.train_pipeline, dm.sample_hooks)
    a, b = ds[(3, 12345)], ds[(3, 12345)]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"]) and a["augment"] == b["augment"]
