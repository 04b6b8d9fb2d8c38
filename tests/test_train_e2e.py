"""A short train + test on ToyCity, resume equality, seed determinism, and the eval entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import pytest
import torch
from omegaconf import OmegaConf

from prove_lightning.data.domains import DOMAINS
from prove_lightning.eval import run_eval
from prove_lightning.evaluation.results import read_results
from prove_lightning.train import run_training

pytestmark = pytest.mark.slow


class CrashAt(pl.Callback):
    """Simulates a job killed mid-run: raises before the given step, after earlier checkpoints were written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if trainer.global_step == self.step:
            raise RuntimeError(f"simulated crash at step {self.step}")


def state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cache_root: Path):
    from conftest import compose_train

    out = tmp_path_factory.mktemp("run")
    cfg = compose_train([], out, cache_root)
    return cfg, run_training(cfg)


def test_train_writes_run_files_and_tests_every_domain(trained) -> None:
    cfg, result = trained
    run_dir = Path(result["run_dir"])
    assert run_dir == Path(cfg.paths.output_root) / "demo/baseline/toycity/segformer_b0"
    for name in ("config.yaml", "version.json", "audit.json", "checkpoints/step_3.ckpt", "checkpoints/step_6.ckpt", "checkpoints/last.ckpt"):
        assert (run_dir / name).is_file(), name
    assert OmegaConf.load(run_dir / "config.yaml").trainer.max_steps == 6
    version = json.loads((run_dir / "version.json").read_text())
    assert version["code_version"]
    audit = json.loads((run_dir / "audit.json").read_text())
    assert set(audit["counts"]["train"]) == {"clear_day"}  # stage demo trains on clear_day only
    assert set(audit["counts"]["val"]) == set(DOMAINS)
    # TensorBoard event files with the scalars the issue names
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "train/loss" in tags and "val/mIoU" in tags and any(t.startswith("lr-") for t in tags)
    assert len(acc.Scalars("val/mIoU")) == 2  # validations at steps 3 and 6
    rows = result["test_rows"]
    assert {r["domain"] for r in rows} == {*DOMAINS, "all"}
    assert all(r["step"] == 6 and r["n_images"] > 0 for r in rows)
    metrics = json.loads((run_dir / "test/step_6/toycity.json").read_text())
    assert set(metrics["domains"]) == {*DOMAINS, "all"}
    # per-image confusion matrices beside the JSON: one per test image, summing to each domain's matrix
    per_image = np.load(run_dir / "test/step_6/toycity.npz")
    assert per_image["cm"].shape == (metrics["domains"]["all"]["n_images"], 19, 19) and len(set(per_image["ids"])) == len(per_image["ids"])
    for d, cm in metrics["confusion_matrix"].items():
        assert (per_image["cm"][per_image["domains"] == d].sum(0) == np.array(cm)).all()
    store = read_results(cfg.paths.output_root)
    assert len(store) == len(DOMAINS) + 1


def test_validation_never_uses_the_test_split(trained) -> None:
    from hydra.utils import instantiate

    cfg, _ = trained
    dm = instantiate(cfg.data)
    dm.index()
    test_paths = {str(r.image) for recs in dm.test_records.values() for r in recs}
    val_paths = {str(r.image) for r in dm.val_records}
    train_paths = {str(r.image) for r in dm.train_records}
    assert val_paths and not (val_paths & test_paths) and not (val_paths & train_paths)
    assert all("/train/images/" in p for p in val_paths)


def test_eval_entry_point_all_checkpoints_replaces_rows(trained) -> None:
    cfg, result = trained
    evalcfg = OmegaConf.create({"run_dir": str(result["run_dir"]), "ckpt_path": None, "ckpt": "all", "accelerator": "cpu", "store_root": None})
    rows = run_eval(evalcfg)
    assert sorted({r["step"] for r in rows}) == [3, 6]
    rows_again = run_eval(evalcfg)
    store = read_results(cfg.paths.output_root)
    assert len(store) == 2 * (len(DOMAINS) + 1)  # re-testing replaced, not duplicated
    final = store[(store.step == 6) & (store.domain == "all")].mIoU.item()
    assert final == pytest.approx(next(r["mIoU"] for r in result["test_rows"] if r["domain"] == "all"))
    assert rows_again == rows or all(a["mIoU"] == b["mIoU"] for a, b in zip(rows, rows_again))


def test_resume_after_crash_equals_uninterrupted_run(train_cfg, tmp_path: Path, trained) -> None:
    cfg_full, result_full = trained
    out = tmp_path / "crashy"
    cfg = train_cfg(output_root=out)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_training(cfg, extra_callbacks=[CrashAt(5)])
    run_dir = Path(cfg.run_dir)
    assert (run_dir / "checkpoints/step_3.ckpt").is_file() and not (run_dir / "checkpoints/step_6.ckpt").exists()
    assert not list((run_dir / "checkpoints").glob("*.tmp"))
    result = run_training(train_cfg(output_root=out))  # same config: finds last.ckpt and continues
    a, b = state(result_full["final_ckpt"]), state(result["final_ckpt"])
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"weights differ after resume: {k}"
    m_full = {r["domain"]: r["mIoU"] for r in result_full["test_rows"]}
    m_res = {r["domain"]: r["mIoU"] for r in result["test_rows"]}
    assert m_full == pytest.approx(m_res, nan_ok=True)


def test_same_seed_same_metrics_other_seed_differs(train_cfg, tmp_path: Path, trained) -> None:
    _, result_full = trained
    again = run_training(train_cfg(output_root=tmp_path / "again"))
    m1 = {r["domain"]: r["mIoU"] for r in result_full["test_rows"]}
    m2 = {r["domain"]: r["mIoU"] for r in again["test_rows"]}
    assert m1 == pytest.approx(m2, nan_ok=True)
    other = run_training(train_cfg("seed=7", output_root=tmp_path / "other"))
    a, b = state(result_full["final_ckpt"]), state(other["final_ckpt"])
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_issue_command_composes_and_trains_segformer_b3(train_cfg, tmp_path: Path) -> None:
    """The documented command `stage=s1 strategy=baseline model=segformer_b3 dataset=toycity`, shortened."""
    cfg = train_cfg(
        "stage=s1", "strategy=baseline", "model=segformer_b3", "dataset=toycity",
        "model.pretrained=false", "data.batch_size=2", "trainer.max_steps=2", "trainer.val_check_interval=2",
        "stage.checkpoint_interval=2", "test_after_training=false",
    )
    assert cfg.model.net.encoder_name == "mit_b3" and cfg.model.net.decoder_segmentation_channels == 256 and cfg.model.inference.mode == "slide"
    assert cfg.data.train_domains == ["clear_day"]
    result = run_training(cfg)
    assert Path(result["final_ckpt"]).is_file()
    assert Path(result["run_dir"]).name == "segformer_b3" and Path(result["run_dir"]).parts[-4] == "s1"
