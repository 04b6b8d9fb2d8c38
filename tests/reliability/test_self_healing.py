"""Self-healing checkpoints and results store: a truncated last.ckpt falls back to the newest valid step_N.ckpt
(moved aside, not deleted), stale temp files are removed, a bad results.csv row is quarantined, never re-persisted
mangled, and `prove results --rebuild` recreates the store from the per-test JSON records."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from reliability_helpers import run_prove_cli

from prove_lightning.evaluation.results import ResultsStore, read_results
from prove_lightning.runs.checkpoints import remove_stale_temp_files, resume_checkpoint
from prove_lightning.train import run_training

pytestmark = pytest.mark.reliability


def test_truncated_last_ckpt_falls_back_to_the_newest_valid_step_checkpoint(uninterrupted, train_cfg, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg0, result0, _ = uninterrupted
    src = Path(result0["run_dir"]) / "checkpoints"
    cfg = train_cfg("test_after_training=false", output_root=tmp_path / "o")
    ck = Path(cfg.run_dir) / "checkpoints"
    ck.mkdir(parents=True)
    step3 = (src / "step_3.ckpt").read_bytes()
    (ck / "step_3.ckpt").write_bytes(step3)
    (ck / "last.ckpt").write_bytes((src / "last.ckpt").read_bytes()[:5000])  # a write cut short
    (ck / ".last.ckpt.abcd1234.ckpt.tmp").write_bytes(b"")  # what a killed atomic write leaves
    (Path(cfg.run_dir) / ".config.yaml.zz_9abcd.tmp").write_text("half")
    with caplog.at_level(logging.WARNING):
        result = run_training(cfg)  # resumes from step 3, trains 4..6
    assert "last.ckpt cannot be loaded" in caplog.text and "moved aside to last.ckpt.corrupt-" in caplog.text
    aside = list(ck.glob("last.ckpt.corrupt-*"))
    assert len(aside) == 1 and aside[0].stat().st_size == 5000  # kept, not deleted
    assert not list(Path(cfg.run_dir).rglob("*.tmp"))
    a = torch.load(result0["final_ckpt"], weights_only=False)["state_dict"]
    b = torch.load(result["final_ckpt"], weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # resumed from step 3 = the uninterrupted run


def test_resume_choice_and_temp_cleanup_without_training(tmp_path: Path) -> None:
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    torch.save({"state_dict": {"w": torch.ones(2)}, "global_step": 4}, ck / "step_4.ckpt")
    torch.save({"state_dict": {"w": torch.tensor([float("nan"), 1.0])}, "global_step": 8}, ck / "step_8.ckpt")
    (ck / "last.ckpt").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / ".toycity.json.q1w2e3r4.tmp").write_text("{")
    keep = tmp_path / "notes.tmp"  # not a temp name of ours: kept
    keep.write_text("mine")
    assert resume_checkpoint(tmp_path, None) == str(ck / "step_4.ckpt")  # last: unreadable, step_8: NaN weights
    assert sorted(p.name.split(".corrupt-")[0] for p in ck.glob("*.corrupt-*")) == ["last.ckpt", "step_8.ckpt"]
    assert keep.exists() and not (tmp_path / "test" / ".toycity.json.q1w2e3r4.tmp").exists()
    assert remove_stale_temp_files(tmp_path) == []


def test_bad_row_is_quarantined_and_rebuild_recreates_the_store(uninterrupted, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg, result, ref_out = uninterrupted
    out = tmp_path / "copy"
    shutil.copytree(ref_out, out)  # the shared run stays as it is
    store = ResultsStore(out)
    good = pd.read_csv(store.path)
    text = store.path.read_text()
    lines = text.splitlines()
    cut = lines[2][: len(lines[2]) // 2]  # a line cut inside the metric columns
    store.path.write_text("\n".join([lines[0], lines[1], cut, *lines[3:]]) + "\n")
    with caplog.at_level(logging.WARNING):
        df = store.read()
    assert len(df) == len(good) - 1 and "results.csv:3:" in caplog.text and "fields where the header has" in caplog.text
    # the next writer moves the bad row to results.rejected.csv, verbatim, and never writes it back mangled
    store.upsert([{**result["test_rows"][0], "run_id": "other/run"}])
    rejected = pd.read_csv(out / "results.rejected.csv")
    assert rejected.source_line.tolist() == [3] and rejected.raw_line.tolist() == [cut]
    after = pd.read_csv(store.path)
    assert not after.drop(columns=[c for c in after.columns if c.startswith(("iou_", "acc_"))]).isna().all(axis=1).any()
    assert cut not in store.path.read_text() and len(after) == len(good)  # one lost, one added
    # rebuild from the per-test JSON records: the original rows again (other/run had no record: gone)
    rc, stdout, err = run_prove_cli(["results", "--rebuild", "--output-root", str(out)])
    assert rc == 0 and "rebuilt" in stdout and "from 1 test records" in stdout, stdout + err
    rebuilt = read_results(out)
    orig = good.sort_values(["domain"]).reset_index(drop=True)
    new = rebuilt.sort_values(["domain"]).reset_index(drop=True)[orig.columns]
    pd.testing.assert_frame_equal(orig, new, check_dtype=False)
    assert list(out.glob("results.csv.before-rebuild-*"))  # the damaged store is kept


def test_bad_rows_written_are_refused_not_turned_into_nan(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    row = {"run_id": "s1/a", "stage": "s1", "step": 1, "test_dataset": "toycity", "domain": "all", "n_images": 2, "mIoU": 50.0}
    with pytest.raises(ValueError, match=r"results.csv: result row 0 has 'fifty' in number column 'mIoU'; nothing was written"):
        store.upsert([{**row, "mIoU": "fifty"}])
    with pytest.raises(ValueError, match=r"empty key column 'run_id'"):
        store.upsert([{**row, "run_id": ""}])
    assert not store.path.exists()
    store.upsert([row])
    assert read_results(tmp_path).mIoU.tolist() == [50.0]
