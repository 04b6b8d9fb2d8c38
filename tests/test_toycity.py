"""ToyCity: deterministic, all domains, a rich label set, written in the stratified layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.labels import CLASS_ID
from prove_lightning.data.sources.toycity import ToyCitySource
from prove_lightning.data.toycity import ToyCitySpec, ensure_toycity, render_scene
from prove_lightning.images import read_image, read_label


def test_same_seed_same_pixels_other_seed_other_pixels() -> None:
    a = render_scene(0, "train", "night", 3, 64, 128)
    b = render_scene(0, "train", "night", 3, 64, 128)
    c = render_scene(1, "train", "night", 3, 64, 128)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_labels_cover_the_required_classes() -> None:
    seen = np.zeros(256, bool)
    for i in range(60):
        _, lab = render_scene(0, "train", "clear_day", i, 96, 192)
        seen[np.unique(lab)] = True
    required = ["road", "sidewalk", "building", "pole", "traffic_light", "traffic_sign", "vegetation", "terrain", "sky", "person", "car"]
    for name in required:
        assert seen[CLASS_ID[name]], name
    assert seen[CLASS_ID["wall"]] or seen[CLASS_ID["fence"]]
    rare = ["rider", "truck", "bus", "train", "bicycle", "motorcycle"]
    assert sum(seen[CLASS_ID[n]] for n in rare) >= 4
    assert not seen[19:255].any()


def test_domains_change_appearance_not_layout_statistics() -> None:
    clear = render_scene(0, "test", "clear_day", 0, 64, 128)[0].astype(float)
    night = render_scene(0, "test", "night", 0, 64, 128)[0].astype(float)
    fog = render_scene(0, "test", "foggy", 0, 64, 128)[0].astype(float)
    assert night.mean() < 0.5 * clear.mean()
    assert fog.std() < clear.std()


def test_cache_in_stratified_layout(tmp_path: Path) -> None:
    spec = ToyCitySpec(height=32, width=64, n_train=2, n_test=1)
    base = ensure_toycity(tmp_path, spec)
    for split, n in (("train", 2), ("test", 1)):
        for d in DOMAINS:
            imgs = sorted((base / split / "images" / "ToyCity" / d).glob("*.png"))
            labs = sorted((base / split / "labels" / "ToyCity" / d).glob("*.png"))
            assert len(imgs) == len(labs) == n
            assert read_image(imgs[0]).shape == (32, 64, 3)
            assert read_label(labs[0]).shape == (32, 64)
    mtime = (base / "toycity.json").stat().st_mtime_ns
    ensure_toycity(tmp_path, spec)  # second call reuses the cache
    assert (base / "toycity.json").stat().st_mtime_ns == mtime


def test_source_records(tmp_path: Path) -> None:
    src = ToyCitySource(tmp_path, height=32, width=64, n_train=2, n_test=1)
    train = src.records("train")
    assert len(train) == 2 * len(DOMAINS)
    assert {r.domain for r in train} == set(DOMAINS)
    assert all(r.label.exists() and r.domain_source == "folder" for r in train)
    assert src.records("val") == []
