"""Manifests: domain normalisation, validation with a reason for every dropped row, and malformed files.

The fixture is a tiny dataset in the real stratified layout ({root}/train/{images,labels}/FixDS/{domain}/)
with a folder of generated images next to it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prove_lightning.config import compose
from prove_lightning.data.manifest import MANIFEST_COLUMNS, DomainNormalizer, ManifestOptions, load_manifest
from prove_lightning.data.sources.stratified import StratifiedSource
from prove_lightning.errors import ConfigError, DataError
from prove_lightning.images import write_png

H, W = 8, 16
STEMS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def options() -> ManifestOptions:
    cfg = compose("train", [])
    return ManifestOptions.from_config(cfg.manifest)


def make_dataset(root: Path) -> StratifiedSource:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for stem in STEMS:
            write_png(root / split / "images/FixDS/clear_day" / f"{split}_{stem}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
            write_png(root / split / "labels/FixDS/clear_day" / f"{split}_{stem}.png", rng.integers(0, 19, (H, W), dtype=np.uint8))
    return StratifiedSource(root, "FixDS", name="fixds")


def gen_image(path: Path, h: int = H, w: int = W) -> None:
    write_png(path, np.full((h, w, 3), 90, dtype=np.uint8))


@pytest.fixture
def ds(tmp_path: Path):
    """(source, train records, manifest path, good rows): four generated images, one per original, in domain_dataset layout."""
    src = make_dataset(tmp_path / "data")
    recs = src.records("train")
    gen_root = tmp_path / "gen" / "M"
    rows = []
    for r, (raw, dom) in zip(recs, [("fog", "foggy"), ("rain_drizzle", "rainy"), ("clear_day2snow", "snowy"), ("night", "night")]):
        g = gen_root / raw / "FixDS" / f"{r.image.stem}_fake.png"
        gen_image(g)
        rows.append({"gen_path": str(g.relative_to(gen_root)), "original_path": str(r.image), "label_path": str(r.label), "dataset": "fixds", "domain": dom, "target_domain": raw, "method": "M"})
    return src, recs, gen_root / "manifest.csv", rows


def write(path: Path, rows: list[dict], columns=MANIFEST_COLUMNS) -> Path:
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def load(path: Path, recs, options: ManifestOptions, **kw):
    return load_manifest(path, dataset="fixds", dataset_aliases=["FixDS"], train_records=recs, options=options, method="M", **kw)


# ---------------------------------------------------------------------------------------------- names
def test_raw_domain_names_are_normalised_by_the_config_table(options: ManifestOptions) -> None:
    norm = DomainNormalizer(options.domain_aliases, options.target_separators)
    expect = {
        "fog": "foggy", "foggy": "foggy", "clear_day2fog": "foggy", "sunny_day2foggy": "foggy", "fog_heavy": "foggy",
        "rain": "rainy", "rain_drizzle": "rainy", "Rain-Heavy": "rainy", "snow": "snowy", "snow_no_flakes": "snowy",
        "day_to_night": "night", "night": "night", "clouds": "cloudy", "clear_day2cloudy": "cloudy", "dusk": "dawn_dusk",
    }
    assert {k: norm(k) for k in expect} == expect
    assert norm("derained") is None and norm("night2day") == "clear_day"


def test_alias_table_errors_name_the_file() -> None:
    with pytest.raises(ConfigError, match="'misty' is not a domain"):
        DomainNormalizer({"misty": ["mist"]})
    with pytest.raises(ConfigError, match="'fog' is listed under both"):
        DomainNormalizer({"foggy": ["fog"], "cloudy": ["fog"]})


# ---------------------------------------------------------------------------------------------- valid
def test_valid_manifest_gives_generated_records_with_relative_paths(ds, options: ManifestOptions) -> None:
    src, recs, path, rows = ds
    got, rep = load(write(path, rows), recs, options)
    assert rep.used == 4 and not rep.dropped and not rep.filtered
    assert {r.domain for r in got} == {"foggy", "rainy", "snowy", "night"}
    r0 = got[0]
    assert r0.generated and r0.method == "M" and r0.domain_source == "manifest" and r0.split == "train"
    assert r0.image == path.parent / rows[0]["gen_path"] and r0.image.is_file()
    assert r0.label == recs[0].label and r0.original == recs[0].image
    assert r0.extra["target_domain"] == "fog"
    assert rep.raw_domains == {"fog": "foggy", "rain_drizzle": "rainy", "clear_day2snow": "snowy", "night": "night"}


def test_domain_filter_and_held_out_originals_are_counted_not_silent(ds, options: ManifestOptions) -> None:
    src, recs, path, rows = ds
    excluded = {str(recs[3].image): "original held out for validation"}
    got, rep = load(write(path, rows), recs[:3], options, domains=["foggy", "rainy", "night"], excluded=excluded)
    assert [r.domain for r in got] == ["foggy", "rainy"]
    assert rep.filtered == {"domain not in strategy.domains ['foggy', 'rainy', 'night']": 1, "original held out for validation": 1}
    assert rep.to_dict()["used_per_domain"] == {"foggy": 1, "rainy": 1}


def test_rows_of_other_datasets_are_counted(ds, options: ManifestOptions) -> None:
    src, recs, path, rows = ds
    other = {**rows[0], "dataset": "bdd10k", "gen_path": "x.png"}
    got, rep = load(write(path, [*rows, other]), recs, options)
    assert len(got) == 4 and rep.filtered == {"row of another dataset": 1} and rep.rows_total == 5


def test_sampled_size_check_checks_only_a_sample(ds, options: ManifestOptions) -> None:
    src, recs, path, rows = ds
    from dataclasses import replace

    opts = replace(options, check_sizes="sample", size_check_sample=2)
    got, rep = load(write(path, rows), recs, opts)
    assert len(got) == 4 and rep.size_check.startswith("sample of 2 of 4 rows")


# ---------------------------------------------------------------------------------------------- malformed
def _missing_file(root: Path, rows: list[dict]) -> list[dict]:
    (root / rows[0]["gen_path"]).unlink()
    return rows


def _size_mismatch(root: Path, rows: list[dict]) -> list[dict]:
    gen_image(root / rows[0]["gen_path"], h=H * 2, w=W * 2)  # a generator that emits another size
    return rows


def _unreadable(root: Path, rows: list[dict]) -> list[dict]:
    (root / rows[0]["gen_path"]).write_bytes(b"not a png at all")
    return rows


def _unreadable_label(root: Path, rows: list[dict]) -> list[dict]:
    Path(rows[0]["label_path"]).write_bytes(b"\x89PNG broken")
    return rows


def _missing_label(root: Path, rows: list[dict]) -> list[dict]:
    Path(rows[0]["label_path"]).unlink()
    return rows


def _set(**kv):
    def f(root: Path, rows: list[dict]) -> list[dict]:
        rows[0] = {**rows[0], **kv}
        return rows

    return f


def _duplicate(root: Path, rows: list[dict]) -> list[dict]:
    return [*rows, dict(rows[1])]


def _test_split_original(root: Path, rows: list[dict]) -> list[dict]:
    rows[0]["original_path"] = rows[0]["original_path"].replace("/train/", "/test/").replace("train_", "test_")
    return rows


ROW_PROBLEMS = {
    "missing generated file": (_missing_file, "generated image file missing"),
    "size mismatch": (_size_mismatch, "generated image size differs from its label's size"),
    "unreadable image": (_unreadable, "unreadable generated image"),
    "unreadable label": (_unreadable_label, "unreadable label"),
    "missing label": (_missing_label, "label file missing"),
    "unknown domain": (_set(domain="derained", target_domain="derained"), "unknown domain name (add it to manifest.domain_aliases in conf/manifest/default.yaml)"),
    "unknown target": (_set(target_domain="sandstorm"), "unknown target_domain name (add it to manifest.domain_aliases in conf/manifest/default.yaml)"),
    "domain vs target": (_set(domain="night"), "domain disagrees with target_domain"),
    "duplicate row": (_duplicate, "duplicate gen_path (the same generated image is listed twice)"),
    "original from the test split": (_test_split_original, "original is not a training image of dataset 'fixds' (test split, another dataset, or another data root?)"),
    "wrong label": (_set(label_path="/elsewhere/label.png"), "label_path is not the label of the original"),
    "empty field": (_set(original_path=""), "empty field(s) original_path"),
    "other method": (_set(method="cycleGAN"), "method differs from the strategy's method 'M'"),
}


@pytest.mark.parametrize("name", list(ROW_PROBLEMS))
def test_each_bad_row_is_dropped_with_its_own_reason(name: str, ds, options: ManifestOptions) -> None:
    src, recs, path, rows = ds
    mutate, reason = ROW_PROBLEMS[name]
    rows = mutate(path.parent, [dict(r) for r in rows])
    got, rep = load(write(path, rows), recs, options)
    assert dict(rep.dropped) == {reason: 1}, rep.dropped
    assert rep.used == len(rows) - 1 == len(got)
    assert rep.examples[reason][0].startswith("row ")
    assert any(reason in line for line in rep.lines())


def test_every_row_problem_has_a_distinct_message() -> None:
    reasons = [r for _, r in ROW_PROBLEMS.values()]
    assert len(set(reasons)) == len(reasons) >= 10


def test_on_invalid_error_stops_at_the_row(ds, options: ManifestOptions) -> None:
    from dataclasses import replace

    src, recs, path, rows = ds
    rows = _missing_file(path.parent, rows)
    with pytest.raises(DataError, match=r"manifest .*manifest.csv, row 2: fog/FixDS/train_a_fake.png .*: generated image file missing"):
        load(write(path, rows), recs, replace(options, on_invalid="error"))


def test_mostly_invalid_manifest_is_an_error(ds, options: ManifestOptions) -> None:
    src, recs, path, rows = ds
    for r in rows[:3]:
        (path.parent / r["gen_path"]).unlink()
    with pytest.raises(DataError, match=r"3 of 4 rows of manifest .* are invalid \(more than manifest.max_invalid_fraction=0.5\): 3 x generated image file missing"):
        load(write(path, rows), recs, options)


FILE_PROBLEMS = {
    "not found": (lambda p, rows: None, r"manifest not found: .*prove manifest build"),
    "empty file": (lambda p, rows: p.write_text(""), r"is empty \(no header, no rows\)"),
    "header only": (lambda p, rows: write(p, []), r"has a header but no rows"),
    "missing column": (lambda p, rows: write(p, [{k: v for k, v in r.items() if k != "label_path"} for r in rows], [c for c in MANIFEST_COLUMNS if c != "label_path"]), r"lacks column\(s\) \['label_path'\]"),
    "not a csv": (lambda p, rows: p.write_bytes(b"\xff\xfe\x00\x81garbage\x00"), r"is not a readable CSV"),
    "wrong dataset": (lambda p, rows: write(p, [{**r, "dataset": "bdd10k"} for r in rows]), r"has no rows for dataset 'fixds' \(rows per dataset: \{'bdd10k': 4\}\)"),
    "every row filtered": (lambda p, rows: write(p, rows), r"no usable generated rows: .*domain not in strategy.domains"),
}


@pytest.mark.parametrize("name", list(FILE_PROBLEMS))
def test_malformed_manifest_files_raise_their_own_message(name: str, ds, options: ManifestOptions) -> None:
    src, recs, path, rows = ds
    make, message = FILE_PROBLEMS[name]
    make(path, rows)
    kw = {"domains": ["cloudy"]} if name == "every row filtered" else {}
    with pytest.raises(DataError, match=message):
        load(path, recs, options, **kw)


def test_bad_ratio_and_unknown_domain_filter_fail_before_training(train_cfg) -> None:
    from prove_lightning.config import instantiate

    with pytest.raises(ConfigError, match=r"strategy.ratio must be in \[0, 1\].*got 1.5"):
        instantiate(train_cfg("strategy=gen_CUT", "strategy.ratio=1.5").data)
    with pytest.raises(ConfigError, match=r"strategy.domains \['fog'\] are not domain names"):
        instantiate(train_cfg("strategy=gen_physics_weather", "strategy.domains=[fog]").data).index_generated()


def test_manifest_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="unknown manifest option"):
        ManifestOptions.from_config({"domain_aliases": {}, "check_size": "all"})
    with pytest.raises(ConfigError, match="check_sizes must be 'all' or 'sample'"):
        ManifestOptions.from_config({"domain_aliases": {}, "check_sizes": "some"})


def test_ratio_one_needs_no_manifest(train_cfg, tmp_path: Path) -> None:
    from prove_lightning.config import instantiate

    dm = instantiate(train_cfg("strategy=gen_CUT", "strategy.ratio=1.0", f"strategy.manifest={tmp_path}/none.csv").data)
    assert dm.index_generated() == [] and not dm.mixing.active and dm.generated_records == []
    assert dm.describe()["mixing"]["active"] is False and "train_generated" not in dm.describe()["pipelines"]
