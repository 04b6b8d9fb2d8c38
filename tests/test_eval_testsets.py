"""Test-set composition from conf/dataset options, prediction naming and formats, fixed TensorBoard samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from prove_lightning.data.domains import DOMAINS
from prove_lightning.errors import ConfigError, DataError
from prove_lightning.evaluation.predictions import (
    CITYSCAPES_LABELID_TO_TRAINID,
    PredictionWriter,
    get_prediction_format,
    inverse_lut,
    prediction_relpath,
)
from prove_lightning.evaluation.testsets import TestSet
from prove_lightning.tasks.spec import build_run_spec
from prove_lightning.tasks.testsets import compose_dataset, resolve_test_sets
from prove_lightning.evaluation.visualize import pick_fixed_samples, prediction_grid, prediction_row


def test_prediction_names_follow_the_dataset_pattern() -> None:
    cs = "/data/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png"
    assert str(prediction_relpath("{stem}.png", cs, "clear_day", "cityscapes")) == "frankfurt_000000_000294_leftImg8bit.png"
    assert str(prediction_relpath("{parent}/{stem}.png", cs, "clear_day", "cityscapes")) == "frankfurt/frankfurt_000000_000294_leftImg8bit.png"
    acdc = "/data/rgb_anon/night/test/GOPR0355/GOPR0355_frame_000138_rgb_anon.png"
    assert str(prediction_relpath("{domain}/{stem}.png", acdc, "night", "acdc")) == "night/GOPR0355_frame_000138_rgb_anon.png"
    for bad in ("/abs/{stem}.png", "../{stem}.png", "{stem}.jpg", "{city}.png", "{0}.png"):
        with pytest.raises(ConfigError, match="prediction_name"):
            prediction_relpath(bad, cs, "clear_day", "cityscapes")


def test_cityscapes_labelids_are_the_inverse_of_the_reference_table() -> None:
    fmt = get_prediction_format("cityscapes_labelids")
    train = np.arange(19, dtype=np.uint8).reshape(1, 19)
    out = fmt(train)
    assert out.ravel().tolist() == [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    assert all(CITYSCAPES_LABELID_TO_TRAINID[int(l)] == t for t, l in enumerate(out.ravel()))
    assert np.array_equal(get_prediction_format("trainids")(train), train)
    with pytest.raises(ValueError, match="no inverse"):
        inverse_lut({1: 0, 2: 0}, num_classes=1)
    with pytest.raises(ConfigError, match="prediction_format"):
        get_prediction_format("labelids_of_nothing")


def test_prediction_writer_writes_pngs_and_refuses_name_clashes(tmp_path: Path) -> None:
    ts = TestSet(name="cs", source=None, prediction_format="cityscapes_labelids", prediction_name="{stem}.png")  # type: ignore[arg-type]
    writer = PredictionWriter(tmp_path, [ts])
    pred = torch.tensor([[[0, 1], [18, 13]]])
    writer(pred, {"path": ["/x/a/img_1.png"], "domain": ["clear_day"]}, 0)
    assert np.asarray(Image.open(tmp_path / "cs/pred/img_1.png")).tolist() == [[7, 8], [33, 26]]
    with pytest.raises(DataError, match="unique"):
        writer(pred, {"path": ["/x/b/img_1.png"], "domain": ["night"]}, 0)
    assert writer.summary(0)["count"] == 1


def test_compose_any_dataset_option_with_given_paths(tmp_path: Path) -> None:
    ds = compose_dataset("stratified", {"data_root": "d", "stratified_root": str(tmp_path), "cache_root": "c", "output_root": "o", "weights_root": "w"},
                         {"name": "bdd10k", "source": {"dataset_dir": "BDD10k"}})
    assert ds["source"]["root"] == str(tmp_path) and ds["source"]["name"] == "bdd10k" and ds["source"]["dataset_dir"] == "BDD10k"
    assert ds["prediction_format"] == "trainids" and ds["test_split"] == "test"
    with pytest.raises(ConfigError, match="not an option of conf/dataset/.*toycity"):
        compose_dataset("no_such_dataset", {"data_root": "x"})


def test_resolve_test_sets_checks_names_and_overrides(tmp_path: Path, train_cfg) -> None:
    run_cfg = build_run_spec(train_cfg())
    (own,) = resolve_test_sets(run_cfg)
    assert own.name == "toycity" and own.split == "test" and own.prediction_name == "{domain}/{stem}.png"
    with pytest.raises(ConfigError, match="not among the test datasets"):
        resolve_test_sets(run_cfg, ["toycity"], {"acdc": {"name": "x"}})
    with pytest.raises(ConfigError, match="twice"):
        resolve_test_sets(run_cfg, ["toycity", "toycity"])
    with pytest.raises(ConfigError, match="share the name"):
        resolve_test_sets(run_cfg, ["toycity", "stratified"], {"stratified": {"name": "toycity", "source": {"dataset_dir": "X"}}})


def test_fixed_val_samples_spread_over_domains_and_grid_shape() -> None:
    domains = ["night", "clear_day", "clear_day", "foggy", "night", "clear_day"]
    assert pick_fixed_samples(domains, 4) == [1, 3, 0, 2]  # DOMAINS order: clear_day, foggy, night; then second round
    assert pick_fixed_samples(domains, 10) == [1, 3, 0, 2, 4, 5]
    assert DOMAINS.index("clear_day") < DOMAINS.index("foggy") < DOMAINS.index("night")
    row = prediction_row(np.zeros((24, 48, 3), np.uint8), np.zeros((48, 96), np.uint8), np.ones((48, 96), np.uint8), height=96)
    assert row.shape == (96, 3 * 192 + 8, 3)
    assert tuple(row[10, 192 + 4 + 10]) == (128, 64, 128) and tuple(row[10, 2 * (192 + 4) + 10]) == (244, 35, 232)  # road, sidewalk
    grid = prediction_grid([row, row[:, :100]])
    assert grid.shape == (2 * 96 + 4, row.shape[1], 3)
