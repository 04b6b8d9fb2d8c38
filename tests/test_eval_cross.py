"""End to end: a tiny ToyCity run, its TensorBoard prediction grids, and `ckpt=all` on two test datasets
(ToyCity and a stratified-layout fixture with its own label mapping), in process and through the Hydra CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.labels import LabelMapping, register_label_mapping
from prove_lightning.eval import run_eval
from prove_lightning.evaluation.metrics import compute_metrics
from prove_lightning.evaluation.predictions import CITYSCAPES_LABELID_TO_TRAINID
from prove_lightning.evaluation.results import KEY, read_results
from prove_lightning.train import run_training

pytestmark = pytest.mark.slow

FIXTURE = {"foggy": ["f_a", "f_b"], "night": ["n_a"]}  # a second dataset: 2 domains, 3 test images
SHIFT = 100  # FixtureShifted stores trainId + 100: only its own label mapping decodes it


@register_label_mapping("fixture_shifted")
def fixture_shifted() -> LabelMapping:
    lut = np.full(256, 255, dtype=np.uint8)
    known = np.zeros(256, dtype=bool)
    lut[SHIFT : SHIFT + 19] = np.arange(19)
    known[SHIFT : SHIFT + 19] = True
    known[255] = True
    return LabelMapping(name="fixture_shifted", lut=lut, known=known)


def make_fixture(root: Path) -> dict[str, np.ndarray]:
    """{root}/test/{images,labels}/{Fixture,FixtureShifted}/{domain}/{stem}.png at 48x80 (not ToyCity's size)."""
    rng = np.random.default_rng(5)
    labels = {}
    for domain, stems in FIXTURE.items():
        for stem in stems:
            img = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
            lab = rng.integers(0, 19, (48, 80)).astype(np.uint8)
            lab[:6] = 255
            labels[f"{domain}/{stem}"] = lab
            for ddir, raw in (("Fixture", lab), ("FixtureShifted", np.where(lab == 255, 255, lab + SHIFT).astype(np.uint8))):
                for kind, arr in (("images", img), ("labels", raw)):
                    p = root / "test" / kind / ddir / domain / f"{stem}.png"
                    p.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(arr).save(p)
    return labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cache_root: Path):
    from conftest import compose_train

    out = tmp_path_factory.mktemp("cross")
    cfg = compose_train(["test_after_training=false"], out, cache_root)
    result = run_training(cfg)
    fixture_root = out / "fixture_data"
    labels = make_fixture(fixture_root)
    return cfg, Path(result["run_dir"]), fixture_root, labels


def test_tensorboard_holds_prediction_grids_and_domain_curves(trained) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir, _, _ = trained
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0})
    acc.Reload()
    images = acc.Images("val/predictions")
    assert [e.step for e in images] == [3, 6]  # one grid at every validation
    # 4 fixed val images, one per domain, each row = input | ground truth | prediction at 192 px high
    assert images[0].height == 4 * 192 + 3 * 4 and images[0].width == 3 * 384 + 2 * 4
    tags = acc.Tags()["scalars"]
    assert {f"val_domain/mIoU_{d}" for d in DOMAINS} <= set(tags)
    assert len(acc.Scalars("val_domain/mIoU_night")) == 2


def test_ckpt_all_on_two_test_datasets_fills_the_store(trained, capsys: pytest.CaptureFixture) -> None:
    cfg, run_dir, fixture_root, labels = trained
    evalcfg = OmegaConf.create(
        {
            "run_dir": str(run_dir), "ckpt_path": None, "ckpt": "all", "accelerator": "cpu", "store_root": None,
            "test_datasets": ["toycity", "stratified"], "save_predictions": True, "num_workers": 0, "progress": False,
            "test_dataset_overrides": {
                "stratified": {"name": "fixture", "source": {"root": str(fixture_root), "dataset_dir": "FixtureShifted", "label_mapping": "fixture_shifted"}}
            },
            "paths": dict(cfg.paths),
        }
    )
    rows = run_eval(evalcfg)
    out = capsys.readouterr().out
    assert "by checkpoint step" in out and "fixture" in out  # convergence table printed
    store = read_results(cfg.paths.output_root)
    toy_domains = {*DOMAINS, "all"}
    expected = {(s, "toycity", d) for s in (3, 6) for d in toy_domains} | {(s, "fixture", d) for s in (3, 6) for d in ("foggy", "night", "all")}
    got = set(zip(store.step, store.test_dataset, store.domain))
    print(f"store after ckpt=all on toycity + fixture: {len(store)} rows")
    assert got == expected and len(store) == len(expected) == 22 and len(rows) == 22
    assert not store.duplicated(KEY).any()
    fx = store[store.test_dataset == "fixture"].set_index(["step", "domain"])
    assert fx.loc[(6, "foggy"), "n_images"] == 2 and fx.loc[(6, "night"), "n_images"] == 1 and fx.loc[(6, "all"), "n_images"] == 3
    assert fx.loc[(6, "all"), "n_pixels"] == 3 * 42 * 80  # native 48x80 labels, 6 ignore rows each
    # provenance on every row
    assert set(store.run_id) == {"demo/baseline/toycity/segformer_b0"} and set(store.stage) == {"demo"}
    assert set(store.model) == {"segformer_b0"} and set(store.dataset) == {"toycity"} and set(store.ratio) == {1.0}
    assert store.config_hash.nunique() == 1 and store.code_version.notna().all() and store.time.notna().all()
    assert {Path(p).name for p in store.ckpt_path} == {"step_3.ckpt", "step_6.ckpt"}
    assert {"iou_road", "acc_bicycle", "mIoU", "mAcc", "aAcc", "fwIoU", "n_pixels"} <= set(store.columns)
    # saved predictions: native size trainIds beside the results; the metrics recomputed from the PNGs agree
    pred_dir = run_dir / "test/step_6/fixture/pred"
    preds = [np.asarray(Image.open(pred_dir / f"{k}.png")) for k in labels]
    assert all(p.shape == (48, 80) and p.max() < 19 for p in preds)
    again = compute_metrics(preds, list(labels.values()))
    assert again["mIoU"] == pytest.approx(fx.loc[(6, "all"), "mIoU"]) and again["aAcc"] == pytest.approx(fx.loc[(6, "all"), "aAcc"])
    assert len(list((run_dir / "test/step_3/toycity/pred").rglob("*.png"))) == store[(store.step == 3) & (store.test_dataset == "toycity") & (store.domain == "all")].n_images.item()
    assert (run_dir / "test/step_6/fixture.json").is_file()


def test_cli_retests_replace_rows_and_writes_cityscapes_labelids(trained) -> None:
    """`python -m prove_lightning.eval` with Hydra overrides: composes conf/dataset/stratified.yaml inside the app."""
    cfg, run_dir, fixture_root, labels = trained
    before = read_results(cfg.paths.output_root)
    args = [
        f"run_dir={run_dir}", "ckpt=[6]", "test_datasets=[toycity,stratified]", "accelerator=cpu", "num_workers=0",
        "progress=false", "save_predictions=true", f"paths.stratified_root={fixture_root}", f"paths.cache_root={cfg.paths.cache_root}",
        f"paths.output_root={cfg.paths.output_root}",
        "+test_dataset_overrides.stratified.name=fixture", "+test_dataset_overrides.stratified.source.dataset_dir=Fixture",
        "+test_dataset_overrides.toycity.prediction_format=cityscapes_labelids",
        "+test_dataset_overrides.toycity.prediction_name='flat/{stem}.png'",
    ]
    import prove_lightning

    env = {**os.environ, "PYTHONPATH": str(Path(prove_lightning.__file__).resolve().parents[1]), "HYDRA_FULL_ERROR": "1"}
    proc = subprocess.run([sys.executable, "-m", "prove_lightning.eval", *args], env=env, capture_output=True, text=True, timeout=300, cwd=fixture_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mIoU per domain" in proc.stdout and "[2/2]" not in proc.stdout and "[1/1]" in proc.stdout
    after = read_results(cfg.paths.output_root)
    assert len(after) == len(before) == 22  # re-testing step 6 replaced its rows
    key = ["step", "test_dataset", "domain"]
    merged = before.merge(after, on=key, suffixes=("_a", "_b"))
    # same weights, same images: FixtureShifted (own mapping) and Fixture (trainIds) give the same numbers
    np.testing.assert_allclose(merged.mIoU_a, merged.mIoU_b, equal_nan=True)
    assert (after[after.step == 6].time > before[before.step == 6].time.max()).all()
    # labelIds written for the official Cityscapes evaluation; mapped back they equal the trainId predictions
    inverse = np.full(256, 255, dtype=np.uint8)
    for lid, tid in CITYSCAPES_LABELID_TO_TRAINID.items():
        inverse[lid] = tid
    trainid_pngs = sorted((run_dir / "test/step_6/toycity/pred").rglob("*.png"))
    flat = run_dir / "test/step_6/toycity/pred/flat"
    assert len(list(flat.glob("*.png"))) == len(trainid_pngs) - len(list(flat.glob("*.png")))
    for p in trainid_pngs:
        if p.parent == flat:
            continue
        lab_ids = np.asarray(Image.open(flat / p.name))
        assert set(np.unique(lab_ids)) <= set(CITYSCAPES_LABELID_TO_TRAINID)
        np.testing.assert_array_equal(inverse[lab_ids], np.asarray(Image.open(p)))
