"""What one run leaves for people and tools: plain log lines outside a terminal, logs/train.log, error.log, every
logger's hyperparameters and test metrics (MLflow read back with its own client), file modes from the umask, and
a model that loads from its checkpoint and predicts on images (`prove predict`).

One real training run (a subprocess whose stdout is a pipe, umask 027) is shared by the tests of this module.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from slurm.runner import job_env, tiny, train_cmd

pytestmark = pytest.mark.slow
RUN_ID = "demo/baseline/toycity/segformer_b0"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, cache_root: Path):
    tmp = tmp_path_factory.mktemp("outputs")
    out = tmp / "out"
    args = [
        "stage=demo", *tiny(out, cache_root, steps=4), "trainer.val_check_interval=2", "trainer.enable_progress_bar=true",
        "callbacks.progress.every_n_steps=1", "logger=[tensorboard,csv,mlflow]",
    ]
    env = job_env(MLFLOW_TRACKING_URI=f"sqlite:///{out}/mlflow.db")
    proc = subprocess.run(
        train_cmd(*args), env=env, cwd=tmp, capture_output=True, text=True, timeout=900,
        preexec_fn=lambda: os.umask(0o027),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, out / RUN_ID, proc


def test_outside_a_terminal_plain_lines_replace_the_bar_and_reach_train_log(run) -> None:
    _, run_dir, proc = run
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("step ")]
    assert [ln.split()[1] for ln in lines] == ["1/4", "2/4", "3/4", "4/4"], proc.stdout[-2000:]
    last = lines[-1]
    for part in ("(100%)", "it/s", "ETA 0:00:00", "loss ", "lr ", "val mIoU "):
        assert part in last, last
    assert "Epoch 0" not in proc.stdout + proc.stderr  # the live bar is off
    log = (run_dir / "logs/train.log").read_text()
    assert all(ln in log for ln in lines) and "validation at step 4: mIoU" in log
    job = json.loads((run_dir / "logs/jobs.jsonl").read_text().splitlines()[-1])
    assert job["pid"] > 0 and job["stdout"] is None  # a pipe, not a file: nothing to point at
    assert not (run_dir / "train.log").exists()  # Hydra's own (empty) job log file is gone


def test_every_written_file_follows_the_umask(run) -> None:
    out, run_dir, _ = run
    for rel in ("config.yaml", "version.json", "audit.json", "checkpoints/step_4.ckpt", "checkpoints/last.ckpt",
                "test/step_4/toycity.json", "logs/train.log", "logs/jobs.jsonl"):
        assert stat.S_IMODE((run_dir / rel).stat().st_mode) == 0o640, rel  # 0666 & ~027; mkstemp alone gives 0600
    assert stat.S_IMODE((out / "results.csv").stat().st_mode) == 0o640


def test_shared_folder_mode_and_group(tmp_path: Path) -> None:
    from prove_lightning.errors import ConfigError
    from prove_lightning.io import atomic_write_text, set_shared_permissions

    try:
        set_shared_permissions("664", os.getgid())
        atomic_write_text(tmp_path / "a.txt", "x")
        st = (tmp_path / "a.txt").stat()
        assert stat.S_IMODE(st.st_mode) == 0o664 and st.st_gid == os.getgid()
        with pytest.raises(ConfigError, match="paths.file_mode"):
            set_shared_permissions("rw-rw-r--")
        with pytest.raises(ConfigError, match="paths.group"):
            set_shared_permissions(None, "no-such-group-here")
    finally:
        set_shared_permissions(None, None)


def test_loggers_get_hyperparameters_named_lr_groups_per_class_iou_images_and_test_metrics(run) -> None:
    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, run_dir, _ = run
    hp = yaml.safe_load((run_dir / "csv/hparams.yaml").read_text())
    assert hp["run_id"] == RUN_ID and hp["model"] == "segformer_b0" and hp["max_steps"] == 4
    header = (run_dir / "csv/metrics.csv").read_text().splitlines()[0].split(",")
    for col in ("lr/backbone", "lr/head", "val/mIoU", "val_class/IoU_road", "test/toycity/mIoU_all", "test/toycity/mIoU_clear_day"):
        assert col in header, col

    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"lr/backbone", "lr/head", "val_class/IoU_road"} <= set(tags["scalars"])
    assert "val/predictions" in tags["images"]
    assert "test/toycity/mIoU_all" in set(tags["scalars"]) or any(
        "test/toycity/mIoU_all" in EventAccumulator(str(f)).Reload().Tags()["scalars"] for f in (run_dir / "tb").glob("events.*")
    )
    assert (run_dir / "tb/hparams.yaml").is_file() and "run_id" in (run_dir / "tb/hparams.yaml").read_text()

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out}/mlflow.db")
    (exp,) = [e for e in client.search_experiments() if e.name == "prove_demo"]
    (mrun,) = client.search_runs([exp.experiment_id])
    assert mrun.data.params["run_id"] == RUN_ID and mrun.data.tags["mlflow.runName"] == RUN_ID
    metrics = mrun.data.metrics
    assert "test/toycity/mIoU_all" in metrics and "val/mIoU" in metrics and "lr/head" in metrics
    assert metrics["test/toycity/mIoU_all"] == pytest.approx(_results_miou(out), abs=1e-4)
    assert mrun.info.status == "FINISHED"


def _results_miou(out: Path) -> float:
    import pandas as pd

    rows = pd.read_csv(out / "results.csv")
    return float(rows[(rows.run_id == RUN_ID) & (rows.domain == "all")].mIoU.iloc[0])


def test_load_from_checkpoint_load_run_and_prove_predict(run, cache_root: Path, tmp_path: Path) -> None:
    from prove_lightning import load_run
    from prove_lightning.cli import main as prove
    from prove_lightning.module import SegModule

    _, run_dir, _ = run
    ckpt = run_dir / "checkpoints/step_4.ckpt"
    module = SegModule.load_from_checkpoint(ckpt, map_location="cpu", weights_only=False)
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.equal(v, saved[k]) for k, v in module.state_dict().items())

    loaded = load_run(run_dir, device="cpu")
    assert loaded.checkpoint == ckpt and loaded.step == 4 and not loaded.model.training
    images = sorted((cache_root / "toycity").glob("*/test/images/**/*.png"))[:3]
    assert images
    src = tmp_path / "in"
    src.mkdir()
    for p in images:
        (src / p.name).write_bytes(p.read_bytes())
    pred0 = loaded.predict(np.array(Image.open(images[0]).convert("RGB")))

    out = tmp_path / "pred"
    assert prove(["predict", f"run_dir={run_dir}", f"input={src}", f"output={out}", "overlay=true"]) == 0
    for p in images:
        for suffix in ("", "_color", "_overlay"):
            assert (out / f"{p.stem}{suffix}.png").is_file(), (p.stem, suffix)
    ids = np.array(Image.open(out / f"{images[0].stem}.png"))
    assert ids.shape == pred0.shape and np.array_equal(ids, pred0) and ids.max() < 19
    assert np.array(Image.open(out / f"{images[0].stem}_color.png")).shape == (*pred0.shape, 3)

    labelids = tmp_path / "labelids"
    assert prove(["predict", f"run_dir={run_dir}", f"input={src}/*.png", f"output={labelids}", "format=cityscapes_labelids"]) == 0
    raw = np.array(Image.open(labelids / f"{images[0].stem}.png"))
    assert set(np.unique(raw)) <= {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}


def test_failed_attempt_writes_error_log_and_train_log_is_appended(tmp_path: Path) -> None:
    from prove_lightning.runs.joblog import last_error, run_context

    run_dir = tmp_path / "run"
    with run_context(run_dir):
        import logging

        logging.getLogger("prove_lightning.train").info("first attempt")
    with pytest.raises(RuntimeError):
        with run_context(run_dir):
            logging.getLogger("prove_lightning.train").info("second attempt")
            raise RuntimeError("CUDA out of memory (simulated)")
    log = (run_dir / "logs/train.log").read_text()
    assert "first attempt" in log and "second attempt" in log and "run failed: RuntimeError" in log
    err = (run_dir / "logs/error.log").read_text()
    assert "Traceback (most recent call last)" in err and "test_run_outputs.py" in err
    assert last_error(run_dir) == "RuntimeError: CUDA out of memory (simulated)"
    from prove_lightning.commands.plan import with_last_error  # what `prove plan` shows beside the run

    assert with_last_error("to_run", run_dir, "partly trained") == "partly trained; last error: RuntimeError: CUDA out of memory (simulated)"
    assert with_last_error("done", run_dir, "tested") == "tested"
    assert len((run_dir / "logs/jobs.jsonl").read_text().splitlines()) == 2


def test_logger_and_callback_choices_build(train_cfg) -> None:
    from pytorch_lightning.callbacks import EarlyStopping, RichProgressBar

    from prove_lightning.tasks.parts import build_trainer
    from prove_lightning.tasks.spec import build_run_spec

    def trainer_of(*overrides: str):  # noqa: ANN202
        return build_trainer(build_run_spec(train_cfg(*overrides)).config)

    trainer = trainer_of("logger=null", "callbacks=none")
    assert trainer.loggers == []
    trainer = trainer_of("logger=many", "callbacks=early_stopping")
    assert [type(lg).__name__ for lg in trainer.loggers] == ["TensorBoardLogger", "CSVLogger"]
    assert any(isinstance(c, EarlyStopping) for c in trainer.callbacks)
    trainer = trainer_of("callbacks=rich", "trainer.enable_progress_bar=true")
    assert any(isinstance(c, RichProgressBar) for c in trainer.callbacks)


def test_wandb_offline_logger_writes_its_run_under_the_run_dir(train_cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb  # noqa: F401 - installed by `make env` (the [wandb] extra): this test never skips
    from prove_lightning.tasks.loggers import build_loggers, log_hparams, log_image, log_test_rows

    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = train_cfg("logger=wandb")
    (lg,) = build_loggers(cfg)
    log_hparams([lg], cfg)
    log_image([lg], "val/predictions", np.zeros((8, 8, 3), np.uint8), 2)
    log_test_rows([lg], [{"test_dataset": "toycity", "domain": "all", "mIoU": 5.0, "step": 4}])
    assert lg.experiment.config["run_id"] == RUN_ID and lg.experiment.summary["test/toycity/mIoU_all"] == 5.0
    lg.experiment.finish()
    (offline,) = (Path(cfg.run_dir) / "wandb").glob("offline-run-*")
    assert next(offline.glob("run-*.wandb")).stat().st_size > 0
    assert list(offline.glob("files/media/images/val/predictions_*.png"))
