"""The results store: replace-on-retest, filters, the CLI, and 8 processes writing at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from prove_lightning.commands import results as results_cmd
from prove_lightning.data.domains import DOMAINS
from prove_lightning.evaluation.results import GROUP, KEY, ResultsStore, read_results

DOMAINS3 = ["clear_day", "night", "all"]


def rows_for(run: str, step: int, test_dataset: str = "toycity", miou: float = 50.0, stage: str = "s1", domains=DOMAINS3) -> list[dict]:
    return [
        {
            "run_id": run, "stage": stage, "strategy": "baseline", "augment": "none", "dataset": "toycity",
            "model": "segformer_b0", "ratio": 1.0, "loss": "ce", "seed": 42, "step": step,
            "test_dataset": test_dataset, "domain": d, "n_images": 3, "aAcc": 90.0, "mIoU": miou + i,
            "mAcc": 60.0, "fwIoU": 80.0, "iou_road": 97.5, "ckpt_path": f"/x/{run}/step_{step}.ckpt",
        }
        for i, d in enumerate(domains)
    ]


def test_retest_replaces_rows_of_that_test_only(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.upsert(rows_for("s1/a", 100) + rows_for("s1/a", 200) + rows_for("s1/a", 200, "acdc"))
    assert len(store.read()) == 9
    store.upsert(rows_for("s1/a", 200, miou=10.0, domains=["night", "all"]))  # re-test: fewer domains now
    df = store.read()
    assert len(df) == 8 and not df.duplicated(KEY).any()
    again = df[(df.step == 200) & (df.test_dataset == "toycity")]
    assert sorted(again.domain) == ["all", "night"] and again.mIoU.min() == 10.0
    assert len(df[(df.step == 200) & (df.test_dataset == "acdc")]) == 3  # another test set of the same step untouched
    with pytest.raises(ValueError, match="repeat keys"):
        store.upsert(rows_for("s1/a", 1) + rows_for("s1/a", 1))
    assert df["step"].dtype == "int64" and pd.api.types.is_string_dtype(df["run_id"])


def test_filters_and_final_only(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.upsert(rows_for("s1/baseline/toycity/m", 100) + rows_for("s1/baseline/toycity/m", 200) + rows_for("s2/x/toycity/m", 50, stage="s2"))
    assert len(read_results(tmp_path, stage="s1")) == 6
    assert len(read_results(tmp_path, run="s1/baseline/*", domain="night")) == 2
    final = read_results(tmp_path, final_only=True)
    assert sorted(set(zip(final.run_id, final.step))) == [("s1/baseline/toycity/m", 200), ("s2/x/toycity/m", 50)]
    assert len(read_results(tmp_path, step=[50, 100], domain=["all", "night"])) == 4
    assert read_results(tmp_path / "nowhere").empty


def test_cli_reads_back_tables_rows_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store = ResultsStore(tmp_path)
    store.upsert(rows_for("s1/baseline/toycity/m", 100) + rows_for("s1/baseline/toycity/m", 200, miou=70.0))
    assert results_cmd.main(["--output-root", str(tmp_path), "--stage", "s1"]) == 0
    out = capsys.readouterr().out
    assert "clear_day" in out and "70.0" in out and "50.0" not in out  # final step only
    assert (tmp_path / "tables" / "s1_mIoU_per_domain.csv").is_file()
    assert results_cmd.main(["--output-root", str(tmp_path), "--all-steps", "--no-save", "--metric", "iou_road"]) == 0
    assert "97.5" in capsys.readouterr().out
    out_csv = tmp_path / "rows.csv"
    assert results_cmd.main(["--output-root", str(tmp_path), "--domain", "night", "--all-steps", "--rows", "--csv", str(out_csv)]) == 0
    assert len(pd.read_csv(out_csv)) == 2 and "night" in capsys.readouterr().out
    from prove_lightning.errors import ConfigError

    with pytest.raises(ConfigError, match="no results store"):
        results_cmd.main(["--output-root", str(tmp_path / "empty")])


WRITER = """
import sys, time
from pathlib import Path
from prove_lightning.evaluation.results import ResultsStore
root, proc, n_tests = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rows(run, step):
    return [dict(run_id=run, stage="s1", step=step, test_dataset="toycity", domain=d, n_images=3, mIoU=50.0 + i, writer=proc)
            for i, d in enumerate({domains!r})]
store = ResultsStore(root)
while not (root / "go").exists():
    time.sleep(0.005)
for t in range(n_tests):
    store.upsert(rows(f"s1/p{{proc}}", t))   # own rows
    store.upsert(rows("s1/shared", t % 3))  # every process re-tests the same 3 shared tests
"""


def test_eight_concurrent_writers_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    n_proc, n_tests = 8, 8
    domains = [*DOMAINS, "all"]
    import prove_lightning

    src = str(Path(prove_lightning.__file__).resolve().parents[1])  # the children import the same code as this process
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    code = WRITER.format(domains=domains)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(p), str(n_tests)], env=env) for p in range(n_proc)]
    time.sleep(0.5)
    (tmp_path / "go").touch()
    assert [p.wait(timeout=120) for p in procs] == [0] * n_proc
    df = ResultsStore(tmp_path).read()
    expected = n_proc * n_tests * len(domains) + 3 * len(domains)
    print(f"concurrency: {n_proc} processes x {2 * n_tests} upserts of {len(domains)} rows -> {len(df)} rows (expected {expected})")
    assert len(df) == expected
    assert not df.duplicated(KEY).any()
    own = df[df.run_id != "s1/shared"]
    assert sorted(own.groupby("run_id").size().tolist()) == [n_tests * len(domains)] * n_proc
    shared = df[df.run_id == "s1/shared"]
    assert len(shared) == 3 * len(domains) and shared.groupby(GROUP).writer.nunique().eq(1).all()  # each test's rows come from one writer
    assert not list(tmp_path.glob(".results.csv.*"))  # no temp files left behind
