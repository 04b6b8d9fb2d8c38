"""Each adapter on its fixture tree in the official layout (tests/dataset_fixtures.py): splits, domains and
their sources, label files and tables, policies for untagged and unpaired images, the stratified layout."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import dataset_fixtures as F
from prove_lightning.config import compose
from prove_lightning.data.labels import get_label_mapping
from prove_lightning.data.sources.bdd_attributes import bdd_domain
from prove_lightning.errors import ConfigError, DataError
from prove_lightning.images import read_label


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("datasets")
    return root, F.build_all(root)


def decoded(source, rec) -> np.ndarray:  # noqa: ANN001
    return get_label_mapping(source.label_mapping)(read_label(rec.label), rec.label)


def domains(recs) -> dict[str, int]:  # noqa: ANN001
    return dict(Counter(r.domain for r in recs))


# ------------------------------------------------------------------------------------------- Cityscapes
def test_cityscapes_splits_domain_and_both_label_types(trees) -> None:
    root, cases = trees
    src = F.source_for(cases["cityscapes"])
    train, val, test = src.records("train"), src.records("val"), src.records("test")
    assert (len(train), len(val), len(test)) == (4, 0, 6) and not src.has_val_split
    assert {r.extra["city"] for r in train} == {"aachen", "bochum"}
    assert {r.extra["city"] for r in test} == {"frankfurt", "lindau", "munster"}  # official val = our test
    assert all(r.domain == "clear_day" and r.domain_source == "dataset" and r.split == "test" for r in test)
    assert all(r.label.name.endswith("_gtFine_labelIds.png") for r in train + test)  # never instanceIds / color
    assert src.label_mapping == "cityscapes_labelids"
    tid = F.source_for(cases["cityscapes_trainids"])
    assert tid.label_mapping == "trainids"
    for a, b in zip(test, tid.records("test")):
        assert np.array_equal(decoded(src, a), decoded(tid, b))  # labelIds via the table == labelTrainIds


def test_cityscapes_domain_from_csv_when_domain_is_null(trees, tmp_path: Path) -> None:
    root, cases = trees
    csv = F.write_domain_csv(tmp_path / "cs.csv", [("frankfurt_000000_000019_leftImg8bit.png", "cloudy")])
    src = F.source_for([*cases["cityscapes"], "dataset.source.domain=null", f"dataset.source.domain_csv={csv}", "dataset.source.untagged=clear_day"])
    test = src.records("test")
    assert Counter((r.domain, r.domain_source) for r in test) == {("cloudy", "csv"): 1, ("clear_day", "untagged_default"): 5}


def test_splits_config_refuses_validating_on_the_test_split(trees) -> None:
    _, cases = trees
    with pytest.raises(ConfigError, match="each official split may serve one purpose only"):
        F.source_for([*cases["cityscapes"], "dataset.source.splits.val=val"])
    with pytest.raises(ConfigError, match=r"splits.test='test'.*labelled splits"):
        F.source_for([*cases["cityscapes"], "dataset.source.splits.test=test"])


def test_roots_come_from_env_or_paths(trees, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = trees
    monkeypatch.setenv("PROVE_CITYSCAPES_ROOT", str(root / "cityscapes"))
    assert compose("train", ["dataset=cityscapes"]).dataset.source.root == str(root / "cityscapes")
    monkeypatch.delenv("PROVE_CITYSCAPES_ROOT")
    assert compose("train", ["dataset=cityscapes", "paths.data_root=/d"]).dataset.source.root == "/d/cityscapes"
    assert compose("train", ["dataset=bdd10k_stratified", "paths.data_root=/d"]).dataset.source.root == "/d/FINAL_SPLITS"


# ------------------------------------------------------------------------------------------------- ACDC
def test_acdc_conditions_are_domains_and_ref_images_are_never_used(trees) -> None:
    _, cases = trees
    src = F.source_for(cases["acdc"])
    train, test = src.records("train"), src.records("test")
    assert domains(train) == {"foggy": 2, "night": 2, "rainy": 2, "snowy": 2}
    assert domains(test) == {"foggy": 1, "night": 1, "rainy": 1, "snowy": 1}
    assert all(r.domain_source == "path" and "_ref" not in str(r.image) and r.image.name.endswith("_rgb_anon.png") for r in train + test)
    assert all(r.label.name.endswith("_gt_labelTrainIds.png") for r in train)
    ids = F.source_for(cases["acdc_labelids"])
    for a, b in zip(train, ids.records("train")):
        assert b.label.name.endswith("_gt_labelIds.png")
        assert np.array_equal(decoded(src, a), decoded(ids, b))


# ----------------------------------------------------------------------------------------------- BDD10k
def test_bdd_precedence_table() -> None:
    """datasets.md §3: night; foggy; snowy; rainy; dawn/dusk; overcast|partly cloudy; clear + daytime."""
    assert bdd_domain("foggy", "night") == "night"
    assert bdd_domain("snowy", "dawn/dusk") == "snowy"
    assert bdd_domain("rainy", "daytime") == "rainy"
    assert bdd_domain("foggy", "daytime") == "foggy"
    assert bdd_domain("overcast", "dawn/dusk") == "dawn_dusk"
    assert bdd_domain("partly cloudy", "undefined") == "cloudy"
    assert bdd_domain("clear", "daytime") == "clear_day"
    assert bdd_domain("clear", "undefined") is None and bdd_domain("undefined", "daytime") is None


def test_bdd_domains_from_attributes_then_csv(trees) -> None:
    root, cases = trees
    _, expected = F.make_bdd10k(root / "bdd_again")  # same names and tags as the case tree
    src = F.source_for(cases["bdd10k"])
    recs = src.records("train") + src.records("test")
    assert len(recs) == 12 and len(src.records("test")) == 3
    for r in recs:
        want = expected[r.image.name]
        if want is None:
            assert (r.domain, r.domain_source) == ("clear_day", "csv"), r.image.name
        else:
            assert (r.domain, r.domain_source) == (want, "bdd_attributes"), r.image.name
            assert {"weather", "timeofday"} <= set(r.extra)
    assert list((root / "cache" / "bdd_attributes").glob("bdd_attributes_*.json"))  # the big JSONs are parsed once


def test_bdd_untagged_policies_are_explicit_and_reported(trees) -> None:
    _, cases = trees
    base = [c for c in cases["bdd10k"] if "domain_csv" not in c]
    with pytest.raises(DataError, match=r"2 of 9 images have no domain tag.*domain_csv.*untagged=skip"):
        F.source_for(base).records("train")
    skip = F.source_for([*base, "dataset.source.untagged=skip"])
    assert len(skip.records("train")) == 7
    assert skip.describe()["indexed"]["train"]["skipped"] == {"untagged": 2}
    tagged = F.source_for([*base, "dataset.source.untagged=cloudy"])
    assert Counter(r.domain_source for r in tagged.records("train")) == {"bdd_attributes": 7, "untagged_default": 2}


def test_bdd_legacy_2018_layout(tmp_path: Path) -> None:
    root = tmp_path / "bdd100k"
    lab = F.scene(1)
    F.save(root / "seg/images/train/abc.jpg", F.picture(lab, 1), mode="RGB")
    F.save(root / "seg/labels/train/abc_train_id.png", lab)
    F.save(root / "seg/images/val/def.jpg", F.picture(lab, 2), mode="RGB")
    F.save(root / "seg/labels/val/def_train_id.png", lab)
    src = F.source_for(["dataset=bdd10k", f"paths.bdd10k_root={root}", "dataset.source.attributes=[]", "dataset.source.untagged=clear_day"])
    assert [r.label.name for r in src.records("train")] == ["abc_train_id.png"]
    assert src.describe()["layout"] == "2018"


# ----------------------------------------------------------------------------------------------- IDD-AW
def test_iddaw_cstrainids_preferred_level3_fallback(trees) -> None:
    _, cases = trees
    cs, l3 = F.source_for(cases["iddaw"]), F.source_for(cases["iddaw_level3"])
    assert (cs.label_mapping, l3.label_mapping) == ("trainids", "iddaw_level3ids")
    a, b = cs.records("train"), l3.records("train")
    assert domains(a) == {"foggy": 2, "night": 2, "rainy": 2, "snowy": 2} and all(r.domain_source == "path" for r in a)
    assert all(r.label.name.endswith("_labelcsTrainIds.png") for r in a) and all(r.label.name.endswith("_labellevel3Ids.png") for r in b)
    for x, y in zip(a, b):  # the fixture's classes survive level3 merges, so both encodings decode alike
        assert np.array_equal(decoded(cs, x), decoded(l3, y))
    assert len(cs.records("test")) == 4 and "/val/" in str(cs.records("test")[0].image)


# -------------------------------------------------------------------------------------------- Mapillary
def test_mapillary_v12_and_v20_layouts_read_v12_palette_ids(trees) -> None:
    _, cases = trees
    v12, v20 = F.source_for(cases["mapillary"]), F.source_for(cases["mapillary_v2"])
    assert (v12.label_mapping, v20.label_mapping) == ("mapillary_v12_strict", "mapillary_v12_rein")
    r12, r20 = v12.records("train"), v20.records("train")
    assert len(r12) == len(r20) == 6 and len(v12.records("test")) == 3
    assert all(r.label.parent.name == "labels" and r.label.parent.parent.name == "training" for r in r12)
    assert all(r.label.parent.parent.name == "v1.2" for r in r20)  # never v2.0/labels, never instances
    assert domains(r12) == {"clear_day": 2, "night": 2, "rainy": 2} and all(r.domain_source == "csv" for r in r12)
    lab = decoded(v12, r12[0])
    assert set(np.unique(lab)) <= {0, 1, 2, 5, 8, 10, 11, 13, 255} and {0, 10, 13} <= set(np.unique(lab))


# ------------------------------------------------------------------------------------------- OUTSIDE15k
def test_outside15k_odgt_lists(trees) -> None:
    root, cases = trees
    src = F.source_for(cases["outside15k"])
    train, test = src.records("train"), src.records("test")
    assert (len(train), len(test)) == (6, 3)
    assert train[0].extra["odgt_size"] == (F.W, F.H)
    assert domains(train) == {"clear_day": 3, "dawn_dusk": 3}
    assert set(np.unique(decoded(src, train[0]))) <= {0, 1, 2, 5, 8, 10, 11, 13, 255}


# ------------------------------------------------------------------------------------------- stratified
@pytest.mark.parametrize("ds", ["bdd10k", "iddaw", "mapillary", "outside15k", "acdc", "cityscapes"])
def test_stratified_layout_with_each_datasets_encoding(trees, ds: str) -> None:
    _, cases = trees
    src = F.source_for(cases[f"{ds}_stratified"])
    assert src.name == ds and not src.has_val_split
    train, test = src.records("train"), src.records("test")
    assert domains(train) == {"clear_day": 3, "night": 3, "foggy": 3} and domains(test) == {"clear_day": 1, "night": 1, "foggy": 1}
    assert all(r.domain_source == "folder" for r in train)
    for r in train[:3]:
        lab = decoded(src, r)
        assert {0, 10, 13} <= set(np.unique(lab)) <= {0, 1, 2, 5, 8, 10, 11, 13, 255}


# ------------------------------------------------------------------------------------------- datamodule
def test_datamodule_carves_val_from_train_and_tests_on_every_domain(trees) -> None:
    from prove_lightning.config import instantiate

    _, cases = trees
    cfg = compose("train", [*cases["acdc"], "stage=s1", "dataset.val_fraction=0.5"])
    cfg.pop("hydra")
    dm = instantiate(cfg.data)
    with pytest.raises(DataError, match=r"no training images in domains \['clear_day'\]"):
        dm.index()  # Stage 1 trains on clear_day; ACDC has none
    cfg.stage.train_domains = ["foggy", "night"]
    dm = instantiate(cfg.data)
    dm.index()
    assert {r.domain for r in dm.train_records} == {"foggy", "night"}  # the domain filter: training only
    assert domains(dm.val_records) == {"foggy": 1, "night": 1, "rainy": 1, "snowy": 1}  # carved, every domain
    assert all(r.extra["official_split"] == "train" for r in dm.val_records)
    assert domains(dm.test_records["acdc"]) == {"foggy": 1, "night": 1, "rainy": 1, "snowy": 1}
    audit = json.loads(json.dumps(dm.describe(), default=str))
    assert audit["sources"]["acdc"]["splits"] == {"train": "train", "val": None, "test": "val"}
    assert audit["sources"]["acdc"]["indexed"]["test"]["domain_sources"] == {"path": 4}


def test_a_separate_val_split_is_used_as_is_and_never_the_test_split(tmp_path: Path) -> None:
    from prove_lightning.config import instantiate

    root = F.make_stratified(tmp_path / "FINAL_SPLITS", datasets=("BDD10k",))
    shutil.copytree(root / "test", root / "val")
    for p in (root / "val").rglob("*.*"):
        p.rename(p.with_name("v_" + p.name))  # different images from test
    cfg = compose("train", ["stage=s2", "dataset=bdd10k_stratified", f"paths.stratified_root={root}", "dataset.source.splits.val=val"])
    cfg.pop("hydra")
    dm = instantiate(cfg.data)
    dm.index()
    assert dm.source.has_val_split
    assert len(dm.val_records) == 3 and all(r.image.name.startswith("v_") and "/val/" in str(r.image) for r in dm.val_records)
    assert len(dm.train_records) == 9  # nothing carved from train
    # pointing val at the test folder is refused at config time
    with pytest.raises(ConfigError, match="one purpose only"):
        F.source_for(["dataset=bdd10k_stratified", f"paths.stratified_root={root}", "dataset.source.splits.val=test"])
