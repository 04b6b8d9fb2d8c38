"""`prove manifest build`: the three folder layouts, matching by stem, unmatched files, ambiguity, merging, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prove_lightning.cli import main as cli_main
from prove_lightning.config import compose
from prove_lightning.data.manifest import ManifestOptions, load_manifest
from prove_lightning.data.manifest_build import build_manifest, stem_candidates
from prove_lightning.data.sources.stratified import StratifiedSource
from prove_lightning.errors import DataError
from prove_lightning.images import write_png

H, W = 8, 16


@pytest.fixture(scope="module")
def options() -> ManifestOptions:
    return ManifestOptions.from_config(compose("train", []).manifest)


def img(path: Path) -> None:
    write_png(path, np.full((H, W, 3), 77, dtype=np.uint8))


@pytest.fixture
def source(tmp_path: Path) -> StratifiedSource:
    root = tmp_path / "data"
    for dom, stem in [("clear_day", "x1"), ("clear_day", "x2"), ("night", "x3")]:
        img(root / "train/images/FixDS" / dom / f"{stem}.jpg")
        write_png(root / "train/labels/FixDS" / dom / f"{stem}.png", np.zeros((H, W), np.uint8))
    img(root / "test/images/FixDS/clear_day/t1.jpg")
    write_png(root / "test/labels/FixDS/clear_day/t1.png", np.zeros((H, W), np.uint8))
    return StratifiedSource(root, "FixDS", name="fixds")


LAYOUT_FILES = {
    "domain_dataset": ["fog/FixDS/x1_fake.png", "fog/FixDS/x2.png", "rain_drizzle/FixDS/x1.png", "fog/OtherDS/x1.png", "derained/FixDS/x2.png", "fog/FixDS/t1.png", "fog/FixDS/sub/x3_translated.jpg"],
    "dataset_domain": ["FixDS/fog/x1_fake.png", "FixDS/fog/x2.png", "FixDS/rain_drizzle/x1.png", "OtherDS/fog/x1.png", "FixDS/derained/x2.png", "FixDS/fog/t1.png", "FixDS/fog/sub/x3_translated.jpg"],
    "flat": ["fog/x1_fake.png", "fog/x2.png", "rain_drizzle/x1.png", "derained/x2.png", "fog/t1.png", "fog/sub/x3_translated.jpg"],
}


@pytest.mark.parametrize("layout", list(LAYOUT_FILES))
def test_each_layout_is_detected_and_matched_by_stem(layout: str, source: StratifiedSource, tmp_path: Path, options: ManifestOptions) -> None:
    gen = tmp_path / "GEN" / "M"
    for f in LAYOUT_FILES[layout]:
        img(gen / f)
    summary = build_manifest(gen, method="M", dataset="fixds", dataset_aliases=["FixDS"], records=source.records("train"), options=options, progress=False)
    assert summary["layout"] == layout
    assert summary["matched"] == 4  # x1_fake, x2, rain x1, sub/x3_translated
    reasons = sorted(u["reason"] for u in summary["unmatched_files"])
    assert reasons == ["no training image of 'fixds' with this stem", "unknown domain folder 'derained' (add it to manifest.domain_aliases)"]
    assert summary["per_domain"] == {"?derained": {"unmatched": 1}, "foggy": {"matched": 3, "unmatched": 1}, "rainy": {"matched": 1}}
    assert summary["files_of_other_datasets"] == ({} if layout == "flat" else {"OtherDS": 1})
    df = pd.read_csv(gen / "manifest.csv")
    assert list(df.columns) == ["gen_path", "original_path", "label_path", "dataset", "domain", "target_domain", "method"]
    assert set(df.target_domain) == {"fog", "rain_drizzle"} and set(df.domain) == {"foggy", "rainy"}
    assert not df.gen_path.str.startswith("/").any()  # relative to the manifest's folder: the folder can move
    x3 = df[df.gen_path.str.contains("x3_translated")].iloc[0]
    assert x3.original_path.endswith("night/x3.jpg") and x3.label_path.endswith("labels/FixDS/night/x3.png")
    on_disk = json.loads((gen / "manifest.summary.fixds.json").read_text())
    assert on_disk["matched"] == 4 and len(on_disk["unmatched_files"]) == 2
    # the built manifest loads as it is (same code path as training)
    recs, rep = load_manifest(gen / "manifest.csv", dataset="fixds", train_records=source.records("train"), options=options, method="M")
    assert rep.used == 4 and not rep.dropped


def test_ambiguous_stem_is_an_error(source: StratifiedSource, tmp_path: Path, options: ManifestOptions) -> None:
    root = source.root
    img(root / "train/images/FixDS/night/x1.jpg")  # a second training image with stem x1
    write_png(root / "train/labels/FixDS/night/x1.png", np.zeros((H, W), np.uint8))
    gen = tmp_path / "GEN" / "M"
    img(gen / "fog/FixDS/x1.png")
    with pytest.raises(DataError, match=r"x1.png: its stem matches 2 training images of dataset 'fixds' .*ambiguous"):
        build_manifest(gen, method="M", dataset="fixds", records=source.records("train"), options=options, progress=False)


def test_rebuilding_keeps_rows_of_other_datasets(source: StratifiedSource, tmp_path: Path, options: ManifestOptions) -> None:
    gen = tmp_path / "GEN" / "M"
    img(gen / "fog/FixDS/x1.png")
    other = {"gen_path": "fog/BDD10k/y.png", "original_path": "/d/y.jpg", "label_path": "/d/y.png", "dataset": "bdd10k", "domain": "foggy", "target_domain": "fog", "method": "M"}
    pd.DataFrame([other]).to_csv(gen / "manifest.csv", index=False)
    summary = build_manifest(gen, method="M", dataset="fixds", records=source.records("train"), options=options, progress=False)
    df = pd.read_csv(gen / "manifest.csv")
    assert summary["rows_kept_from_other_datasets"] == 1 and sorted(df.dataset) == ["bdd10k", "fixds"]


def test_nothing_matched_writes_no_manifest(source: StratifiedSource, tmp_path: Path, options: ManifestOptions) -> None:
    gen = tmp_path / "GEN" / "M"
    img(gen / "fog/FixDS/zzz.png")
    with pytest.raises(DataError, match=r"no generated image matched a training image of 'fixds'.*manifest not written"):
        build_manifest(gen, method="M", dataset="fixds", records=source.records("train"), options=options, progress=False)
    assert not (gen / "manifest.csv").exists() and (gen / "manifest.summary.fixds.json").is_file()


def test_unknown_layout_says_how_to_fix(source: StratifiedSource, tmp_path: Path, options: ManifestOptions) -> None:
    gen = tmp_path / "GEN" / "M"
    img(gen / "outputs/x1.png")
    with pytest.raises(DataError, match=r"cannot tell the layout.*'outputs'.*--layout"):
        build_manifest(gen, method="M", dataset="fixds", records=source.records("train"), options=options, progress=False)


def test_stem_candidates_strip_generator_endings() -> None:
    c = stem_candidates("FixDS_x1_fake_fog", "fog", ["_fake"], ["FixDS"])
    assert c[0] == "FixDS_x1_fake_fog" and "x1" in c and "FixDS_x1" in c


def test_cli_build_and_check(source: StratifiedSource, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gen = tmp_path / "GEN" / "CUT"
    img(gen / "clear_day2fog/FixDS/x1.png")
    img(gen / "clear_day2fog/FixDS/x2.png")
    ds = ["dataset=stratified", "dataset.source.dataset_dir=FixDS", "dataset.name=fixds", f"paths.stratified_root={source.root}", f"paths.generated_root={tmp_path}/GEN"]
    assert cli_main(["manifest", "build", "strategy=gen_CUT", *ds, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "foggy" in out and "clear_day2fog" in out
    df = pd.read_csv(gen / "manifest.csv")
    assert set(df.method) == {"CUT"} and len(df) == 2
    # check = the training data path: x1/x2 may be held out for validation; every row is accounted for
    code = cli_main(["manifest", "check", "strategy=gen_CUT", *ds, "dataset.val_fraction=0.0", "model=segformer_b0"])
    out = capsys.readouterr().out
    assert code == 0 and "used: 2" in out
    with pytest.raises(SystemExit) as e:
        cli_main(["manifest", "build", str(tmp_path / "nowhere"), *ds])
    assert e.value.code == 2 and "generated-images folder not found" in capsys.readouterr().err


def test_check_decode_finds_images_cut_behind_an_intact_header(source: StratifiedSource, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gen = tmp_path / "GEN" / "CUT"
    img(gen / "clear_day2fog/FixDS/x1.png")
    img(gen / "clear_day2fog/FixDS/x2.png")
    ds = ["dataset=stratified", "dataset.source.dataset_dir=FixDS", "dataset.name=fixds", f"paths.stratified_root={source.root}", f"paths.generated_root={tmp_path}/GEN"]
    assert cli_main(["manifest", "build", "strategy=gen_CUT", *ds, "--no-progress"]) == 0
    cut = gen / "clear_day2fog/FixDS/x2.png"
    data = cut.read_bytes()
    cut.write_bytes(data[: max(60, len(data) // 2)])  # PNG signature + IHDR intact: the size check passes
    check = ["manifest", "check", "strategy=gen_CUT", *ds, "dataset.val_fraction=0.0", "model=segformer_b0"]
    capsys.readouterr()
    assert cli_main(check) == 0  # the header-only check cannot see it
    assert cli_main([*check, "--decode"]) == 1
    out = capsys.readouterr().out
    assert "decoded: 1 of 2 generated images" in out and "x2.png: cannot decode image" in out
