"""`prove data check` on every fixture tree (clean -> exit 0) and on malformed trees (each -> non-zero exit and
its own message, and the same problem stopping training with a clear error); a short train + test run on
every fixture dataset through run_training, the code path ToyCity uses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

import dataset_fixtures as F
from prove_lightning.cli import main as prove
from prove_lightning.config import compose
from prove_lightning.errors import DataError


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("datasets")
    return root, F.build_all(root)


def check(capsys: pytest.CaptureFixture, overrides: list[str]) -> tuple[int, str]:
    try:
        rc = prove(["data", "check", *overrides, "--jobs", "2"])
    except SystemExit as e:  # ProveError -> one line on stderr, exit 2
        rc = int(e.code)
    out = capsys.readouterr()
    return rc, " ".join((out.out + out.err).split())  # rich wraps long lines


CLEAN = ["cityscapes", "cityscapes_trainids", "acdc", "acdc_labelids", "bdd10k", "iddaw", "iddaw_level3", "mapillary", "mapillary_v2", "outside15k",
         "bdd10k_stratified", "iddaw_stratified", "mapillary_stratified", "outside15k_stratified", "acdc_stratified", "cityscapes_stratified"]


@pytest.mark.parametrize("case", CLEAN)
def test_data_check_passes_on_every_clean_fixture(trees, capsys, case: str) -> None:
    _, cases = trees
    rc, out = check(capsys, cases[case])
    assert rc == 0, out
    assert "OK: no problems found" in out and "train" in out and "test" in out


# --------------------------------------------------------------------------------------- malformed trees
# Each builder makes a fresh tree, breaks it, and returns (overrides, message of `prove data check`,
# how training meets the problem: ("index", split, message) or ("load", split, message)).
Case = tuple[list[str], str, tuple[str, str, str]]


def cs(tmp: Path) -> Path:
    return F.make_cityscapes(tmp / "cityscapes")


def image_without_label(tmp: Path) -> Case:
    root = cs(tmp)
    (root / "gtFine/train/aachen/aachen_000001_000026_gtFine_labelIds.png").unlink()
    return ["dataset=cityscapes", f"paths.cityscapes_root={root}"], r"images without labels: 1 .*aachen_000001_000026_leftImg8bit.png", ("index", "train", r"1 images without labels, e\.g\. .*aachen_000001_000026_leftImg8bit\.png")


def label_without_image(tmp: Path) -> Case:
    root = cs(tmp)
    (root / "leftImg8bit/val/lindau/lindau_000001_000026_leftImg8bit.png").unlink()
    return ["dataset=cityscapes", f"paths.cityscapes_root={root}"], r"labels without images: 1 .*lindau_000001_000026_gtFine_labelIds.png", ("index", "test", r"1 labels without images")


def unknown_label_value(tmp: Path) -> Case:
    root = cs(tmp)
    p = root / "gtFine/train/bochum/bochum_000000_000019_gtFine_labelIds.png"
    a = np.array(Image.open(p))
    a[0, :3] = 50
    Image.fromarray(a).save(p)
    return ["dataset=cityscapes", f"paths.cityscapes_root={root}"], r"unknown label values: 1 .*bochum_000000_000019_gtFine_labelIds.png: values \[50\] are not ids of the 'cityscapes_labelids' label set \(known: 0-45\)", ("load", "train", r"bochum_000000_000019_gtFine_labelIds\.png: label values \[50\] are not ids of the 'cityscapes_labelids' label set")


def trainids_not_generated(tmp: Path) -> Case:
    root = cs(tmp)
    for p in root.glob("gtFine/*/*/*_labelTrainIds.png"):
        p.unlink()
    msg = r"no \*_gtFine_labelTrainIds.png files, but \*_gtFine_labelIds.png exist; set dataset.source.label_type=labelIds or run cityscapesScripts' csCreateTrainIdLabelImgs"
    return ["dataset=cityscapes", f"paths.cityscapes_root={root}", "dataset.source.label_type=labelTrainIds"], msg, ("index", "train", msg)


def acdc_unknown_condition(tmp: Path) -> Case:
    root = F.make_acdc(tmp / "acdc")
    shutil.copytree(root / "rgb_anon/fog", root / "rgb_anon/haze")
    msg = r"rgb_anon: unknown condition folder\(s\) \['haze'\]; ACDC has \['fog', 'night', 'rain', 'snow'\]"
    return ["dataset=acdc", f"paths.acdc_root={root}"], msg, ("index", "train", msg)


def acdc_size_mismatch(tmp: Path) -> Case:
    root = F.make_acdc(tmp / "acdc")
    p = next(root.glob("gt/night/train/*/*_gt_labelTrainIds.png"))
    Image.open(p).resize((48, 24), Image.NEAREST).save(p)
    return ["dataset=acdc", f"paths.acdc_root={root}"], rf"size mismatch: 1 .*{p.name}: label 48x24, image 64x32", ("load", "train", r"label size 48x24 differs from image .* size 64x32")


def bdd_untagged(tmp: Path) -> Case:
    root, _ = F.make_bdd10k(tmp / "bdd100k")
    ov = ["dataset=bdd10k", f"paths.bdd10k_root={root}", f"paths.cache_root={tmp}/cache"]
    return ov, r"untagged: 3 \(give dataset.source.domain_csv", ("index", "train", r"2 of 9 images have no domain tag")


def bdd_bad_attribute(tmp: Path) -> Case:
    root, _ = F.make_bdd10k(tmp / "bdd100k")
    p = root / "labels/det_20/det_train.json"
    frames = json.loads(p.read_text())
    frames[0]["attributes"]["weather"] = "sunny"
    p.write_text(json.dumps(frames))
    msg = rf"det_train.json: frame {frames[0]['name']} has weather='sunny', timeofday='daytime'; known: weather"
    return ["dataset=bdd10k", f"paths.bdd10k_root={root}", f"paths.cache_root={tmp}/cache", "dataset.source.untagged=skip"], msg, ("index", "train", msg)


def bdd_truncated_json(tmp: Path) -> Case:
    root, _ = F.make_bdd10k(tmp / "bdd100k")
    p = root / "labels/det_20/det_val.json"
    p.write_text(p.read_text()[:-40])
    msg = r"det_val.json: not valid JSON near character \d+ of a frame"
    return ["dataset=bdd10k", f"paths.bdd10k_root={root}", f"paths.cache_root={tmp}/cache", "dataset.source.untagged=skip"], msg, ("index", "test", msg)


def iddaw_mixed_label_types(tmp: Path) -> Case:
    root = F.make_iddaw(tmp / "IDDAW")
    p = next(root.glob("train/SNOW/gtSeg/*/*_labelcsTrainIds.png"))
    p.unlink()
    msg = r"1 frames have only \*_labellevel3Ids.png masks .* regenerate csTrainId masks for all frames .* or set dataset.source.label_type=level3Id"
    return ["dataset=iddaw", f"paths.iddaw_root={root}"], msg, ("index", "train", msg)


def iddaw_polygons_only(tmp: Path) -> Case:
    root = F.make_iddaw(tmp / "IDDAW", label_types=())
    msg = r"polygons \(\*_mask.json\) but no \*_labelcsTrainIds.png masks; generate them with the kit's createLabels_iddaw.py"
    return ["dataset=iddaw", f"paths.iddaw_root={root}"], msg, ("index", "train", msg)


def mapillary_colour_label(tmp: Path) -> Case:
    root, keys = F.make_mapillary(tmp / "mapillary")
    p = root / "training/labels" / f"{keys[1]}.png"
    Image.open(p).convert("RGB").save(p)  # what a cv2 / colour export leaves: RGB colours, not ids
    ov = ["dataset=mapillary", f"paths.mapillary_root={root}", "dataset.source.untagged=clear_day"]
    return ov, rf"unreadable: 1 .*{keys[1]}.png: 3-channel label whose channels differ", ("load", "train", r"3-channel label whose channels differ, i.e. a colour-coded label")


def mapillary_v20_labels_only(tmp: Path) -> Case:
    root, _ = F.make_mapillary(tmp / "mapillary", layout="v2.0")
    for split in ("training", "validation"):
        shutil.rmtree(root / split / "v1.2")
    msg = r"only v2.0/labels \(124 classes\) found; no public v2.0 -> Cityscapes table exists"
    return ["dataset=mapillary", f"paths.mapillary_root={root}", "dataset.source.untagged=clear_day"], msg, ("index", "train", msg)


def mapillary_v20_ids_in_v12_folder(tmp: Path) -> Case:
    root, _ = F.make_mapillary(tmp / "mapillary", layout="v2.0")
    for split in ("training", "validation"):
        shutil.rmtree(root / split / "v1.2" / "labels")
        shutil.copytree(root / split / "v2.0" / "labels", root / split / "v1.2" / "labels")
    return ["dataset=mapillary", f"paths.mapillary_root={root}", "dataset.source.untagged=clear_day"], r"unknown label values: 9 .*v1.2/labels/.*png: values \[6\d, .*\] are not ids of the 'mapillary_v12_strict' label set \(known: 0-65\)", ("load", "train", r"label values \[\d+(, \d+)*\] are not ids of the 'mapillary_v12_strict' label set \(known: 0-65\)")


def outside_bad_odgt(tmp: Path) -> Case:
    root, _ = F.make_outside15k(tmp / "OUTSIDE15k")
    p = root / "outside15k_train.odgt"
    p.write_text(p.read_text() + '{"fpath_img": "images/training/x.jpg"}\n')
    msg = r"outside15k_train.odgt:7: not an odgt entry \(KeyError: 'fpath_segm'\)"
    return ["dataset=outside15k", f"paths.outside15k_root={root}", "dataset.source.untagged=clear_day"], msg, ("index", "train", msg)


def outside_listed_size(tmp: Path) -> Case:
    root, _ = F.make_outside15k(tmp / "OUTSIDE15k")
    p = root / "outside15k_val.odgt"
    p.write_text(p.read_text().replace('"width": 64, "height": 32', '"width": 100, "height": 50', 1))
    ov = ["dataset=outside15k", f"paths.outside15k_root={root}", "dataset.source.untagged=clear_day"]
    return ov, r"size mismatch: 1 .*OUTSIDE15k_validation_00000001.jpg: list says 100x50, file is 64x32", ("none", "", "")


def stratified_bad_domain_folder(tmp: Path) -> Case:
    root = F.make_stratified(tmp / "FINAL_SPLITS", datasets=("IDD-AW",))
    shutil.move(root / "train/images/IDD-AW/foggy", root / "train/images/IDD-AW/fog")
    msg = r"folders \['fog'\] are not domain names; rename them to one of"
    return ["dataset=iddaw_stratified", f"paths.stratified_root={root}"], msg, ("index", "train", msg)


def domain_csv_old_names(tmp: Path) -> Case:
    root, paths = F.make_outside15k(tmp / "OUTSIDE15k")
    csv = F.write_domain_csv(tmp / "d.csv", [(paths[0], "clear_day"), (paths[1], "fog")])
    msg = r"d.csv:3: 'fog' is not a domain name \(use one of .*\); write 'foggy'"
    return ["dataset=outside15k", f"paths.outside15k_root={root}", f"dataset.source.domain_csv={csv}"], msg, ("index", "train", msg)


def corrupt_image(tmp: Path) -> Case:
    root, _ = F.make_bdd10k(tmp / "bdd100k")
    p = sorted(root.glob("images/10k/val/*.jpg"))[1]
    p.write_bytes(p.read_bytes()[:300])
    ov = ["dataset=bdd10k", f"paths.bdd10k_root={root}", f"paths.cache_root={tmp}/cache", "dataset.source.untagged=clear_day"]
    return ov, rf"unreadable: 1 .*{p.name}: cannot decode image", ("load", "test", rf"{p.name}: cannot decode image")


def missing_root(tmp: Path) -> Case:
    msg = r"root of dataset 'mapillary' not found: .*nowhere does not exist or is not a folder; set paths.mapillary_root \(env PROVE_MAPILLARY_ROOT\)"
    return ["dataset=mapillary", f"paths.mapillary_root={tmp}/nowhere"], msg, ("index", "train", msg)


MALFORMED: dict[str, Callable[[Path], Case]] = {f.__name__: f for f in [
    image_without_label, label_without_image, unknown_label_value, trainids_not_generated, acdc_unknown_condition,
    acdc_size_mismatch, bdd_untagged, bdd_bad_attribute, bdd_truncated_json, iddaw_mixed_label_types, iddaw_polygons_only,
    mapillary_colour_label, mapillary_v20_labels_only, mapillary_v20_ids_in_v12_folder, outside_bad_odgt, outside_listed_size,
    stratified_bad_domain_folder, domain_csv_old_names, corrupt_image, missing_root,
]}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_tree_fails_with_its_own_message(name: str, tmp_path: Path, capsys) -> None:
    overrides, check_msg, (where, split, train_msg) = MALFORMED[name](tmp_path)
    rc, out = check(capsys, overrides)
    assert rc != 0, out
    assert re.search(check_msg, out), f"`prove data check` said: {out}"
    if where == "index":
        with pytest.raises(DataError, match=train_msg):
            F.source_for(overrides).records(split)
    elif where == "load":
        from prove_lightning.data.dataset import SegDataset
        from prove_lightning.data.labels import get_label_mapping
        from prove_lightning.data.transforms import TestPipeline

        src = F.source_for(overrides)
        ds = SegDataset(src.records(split), {src.name: get_label_mapping(src.label_mapping)}, TestPipeline())
        with pytest.raises(DataError, match=train_msg):
            for i in range(len(ds)):
                ds[i]


def test_cli_entry_point_exit_codes(trees, tmp_path: Path) -> None:
    _, cases = trees
    ok = subprocess.run([sys.executable, "-m", "prove_lightning.cli", "data", "check", *cases["iddaw"]], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "OK: no problems found" in ok.stdout, ok.stdout + ok.stderr
    overrides, msg, _ = image_without_label(tmp_path)
    bad = subprocess.run([sys.executable, "-m", "prove_lightning.cli", "data", "check", *overrides], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and re.search(msg, " ".join(bad.stdout.split())), bad.stdout + bad.stderr
    cfg = subprocess.run([sys.executable, "-m", "prove_lightning.cli", "data", "check", "dataset=cityscapes", "dataset.source.splits.val=val"], capture_output=True, text=True, timeout=120)
    assert cfg.returncode == 2 and "each official split may serve one purpose only" in cfg.stderr and "Traceback" not in cfg.stderr


# ----------------------------------------------------------------------------------------- train + test
TRAIN = ["cityscapes", "acdc", "bdd10k", "iddaw", "mapillary", "outside15k", "outside15k_stratified"]


@pytest.mark.slow
@pytest.mark.parametrize("case", TRAIN)
def test_short_train_and_test_on_fixture(trees, tmp_path: Path, case: str) -> None:
    from prove_lightning.train import run_training

    _, cases = trees
    cfg = compose("train", [
        *cases[case], "stage=s2", "model=segformer_b0", "trainer=cpu", "trainer.enable_progress_bar=false",
        "data.num_workers=0", "data.batch_size=2", "trainer.max_steps=2", "trainer.val_check_interval=2",
        "stage.checkpoint_interval=2", "dataset.train_pipeline.scale=[64,32]", "dataset.train_pipeline.crop_size=[32,32]",
        "model.net.decoder_segmentation_channels=32", f"paths.output_root={tmp_path}/out",
    ])
    cfg.pop("hydra")
    result = run_training(cfg)
    run_dir = Path(result["run_dir"])
    assert (run_dir / "checkpoints/step_2.ckpt").is_file()
    audit = json.loads((run_dir / "audit.json").read_text())
    name = cfg.dataset.source.name
    test_counts = audit["counts"][f"test/{name}"]
    rows = {r["domain"]: r for r in result["test_rows"]}
    assert set(rows) == {*test_counts, "all"}  # test covers every domain present
    assert all(rows[d]["n_images"] == n for d, n in test_counts.items())
    assert audit["sources"][name]["label_mapping"] == F.source_for(cases[case]).label_mapping
    assert all(np.isfinite(r["mIoU"]) for r in result["test_rows"])
