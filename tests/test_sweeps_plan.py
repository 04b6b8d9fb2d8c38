"""`prove plan`: every run of a sweep with its status, on an output tree prepared in each state."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from prove_lightning.commands.plan import main as plan_main
from prove_lightning.evaluation.results import ResultsStore
from prove_lightning.runs.locks import LockInfo, lock_path
from prove_lightning.tasks.plan import count_by_status, plan_sweep

STEPS = 6
MODELS = ("segformer_b0", "segformer_b3")


def _rows(run_id: str, test_dataset: str = "toycity") -> list[dict]:
    return [{"run_id": run_id, "step": STEPS, "test_dataset": test_dataset, "domain": d, "mIoU": 50.0} for d in ("clear_day", "all")]


def _lock(run_dir: Path, pid: int) -> None:
    info = LockInfo.mine("x")
    info.pid, info.pid_start, info.job_id, info.scheduler = pid, None, None, None
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path(run_dir).write_text(json.dumps(asdict(info)))


@pytest.fixture
def tree(tmp_path: Path):
    """Strategies of a made-up grid (test-only configs) and an output tree with one run in each state."""
    conf = tmp_path / "conf" / "strategy"
    conf.mkdir(parents=True)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "gen_path,original_path,label_path,dataset,domain,target_domain,method\n"
        "g1.png,o1.png,l1.png,toycity,foggy,fog,m\n"
        "g2.png,o2.png,l2.png,bdd10k,night,night,m\n"
    )
    (conf / "gen_plantest_rows.yaml").write_text(f"name: gen_plantest_rows\nratio: 0.5\nmanifest: {manifest}\n")
    (conf / "gen_plantest_norows.yaml").write_text(f"name: gen_plantest_norows\nratio: 0.5\nmanifest: {manifest}\ndomains: [snowy]\n")
    (conf / "std_plantest.yaml").write_text("name: std_plantest\n")
    out = tmp_path / "out"
    store = ResultsStore(out)
    overrides = [
        "stage=demo", f"trainer.max_steps={STEPS}", f"paths.output_root={out}", f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
        "strategy=baseline,std_plantest,gen_plantest_rows,gen_plantest_norows", f"model={','.join(MODELS)}",
    ]

    def run(strategy: str, model: str) -> Path:
        leaf = model + ("_ratio0p50" if strategy.startswith("gen_") else "")
        return out / "demo" / strategy / "toycity" / leaf

    # done: final checkpoint + results on its test set
    (run("baseline", "segformer_b0") / "checkpoints").mkdir(parents=True)
    (run("baseline", "segformer_b0") / f"checkpoints/step_{STEPS}.ckpt").write_bytes(b"x")
    store.upsert(_rows("demo/baseline/toycity/segformer_b0"))
    # not tested: final checkpoint, results only for another step
    (run("std_plantest", "segformer_b0") / "checkpoints").mkdir(parents=True)
    (run("std_plantest", "segformer_b0") / f"checkpoints/step_{STEPS}.ckpt").write_bytes(b"x")
    store.upsert([r | {"step": 2} for r in _rows("demo/std_plantest/toycity/segformer_b0")])
    # locked by a live process on this host
    holder = subprocess.Popen(["sleep", "120"])
    _lock(run("gen_plantest_rows", "segformer_b0"), holder.pid)
    # to run, partly trained, with the stale lock of a process that is gone
    (run("std_plantest", "segformer_b3") / "checkpoints").mkdir(parents=True)
    (run("std_plantest", "segformer_b3") / "checkpoints/last.ckpt").write_bytes(b"x")
    dead = subprocess.Popen(["true"])
    dead.wait()
    _lock(run("std_plantest", "segformer_b3"), dead.pid)
    yield overrides, run, holder
    holder.kill()
    holder.wait()


def test_plan_gives_every_run_of_the_grid_its_status(tree) -> None:
    overrides, run, holder = tree
    planned = plan_sweep(overrides)
    assert len(planned) == 4 * len(MODELS)
    status = {(p.check.run_dir.parts[-3], p.check.run_dir.name): (p.status, p.check.detail) for p in planned}
    assert status[("baseline", "segformer_b0")][0] == "done"
    assert status[("std_plantest", "segformer_b0")] == ("not_tested", f"step_{STEPS}.ckpt exists; no results on toycity")
    locked = status[("gen_plantest_rows", "segformer_b0_ratio0p50")]
    assert locked[0] == "locked" and f"pid {holder.pid}" in locked[1] and socket.gethostname() in locked[1]
    for model in MODELS:  # the manifest has toycity rows, but none in the strategy's domains (snowy)
        st, detail = status[("gen_plantest_norows", f"{model}_ratio0p50")]
        assert st == "no_generated" and "manifest.csv" in detail and "domains snowy" in detail
    st, detail = status[("std_plantest", "segformer_b3")]
    assert st == "to_run" and "resumes from checkpoints/last.ckpt" in detail and "stale lock" in detail
    assert status[("baseline", "segformer_b3")] == ("to_run", "not started")
    assert status[("gen_plantest_rows", "segformer_b3_ratio0p50")][0] == "to_run"
    assert "1 generated images" in status[("gen_plantest_rows", "segformer_b3_ratio0p50")][1]
    assert count_by_status(planned) == {"done": 1, "not_tested": 1, "locked": 1, "failed": 0, "no_generated": 2, "no_source": 0, "to_run": 3, "conflict": 0}


def test_plan_reports_extended_runs_waiting_for_their_source(tree) -> None:
    overrides, run, _ = tree
    ext = [o for o in overrides if not o.startswith(("stage=", "trainer."))] + ["stage=extended_s1", "stage.extend_from=demo", "trainer.max_steps=12"]
    ext = [o if not o.startswith("strategy=") else "strategy=baseline" for o in ext]
    (run("baseline", "segformer_b0") / "config.yaml").write_text(f"trainer:\n  max_steps: {STEPS}\n")
    status = {p.check.run_dir.name: (p.status, p.check.detail) for p in plan_sweep(ext)}
    assert status["segformer_b0"][0] == "to_run" and f"continues demo's step_{STEPS}.ckpt to step 12" in status["segformer_b0"][1]
    assert status["segformer_b3"][0] == "no_source" and "run stage=demo" in status["segformer_b3"][1]


def test_plan_command_prints_the_table_and_writes_json(tree, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    overrides, _, _ = tree
    out_json = tmp_path / "plan.json"
    assert plan_main([*overrides, "--json", str(out_json), "--status", "locked,not_tested"]) == 0
    printed = capsys.readouterr().out
    assert "8 runs: done 1, not_tested 1, locked 1, failed 0, no_generated 2, no_source 0, to_run 3" in printed
    assert "locked by" in printed and "demo/baseline/toycity/segformer_b3" not in printed  # filtered out
    data = json.loads(out_json.read_text())
    assert len(data["runs"]) == 8 and data["counts"]["done"] == 1
    with pytest.raises(SystemExit):
        plan_main([*overrides, "--status", "finished"])


def test_plan_command_line_via_the_prove_cli(tmp_path: Path) -> None:
    """`prove plan ...` as a user types it (the demo grid on an empty output root: everything to run)."""
    from slurm.runner import job_env

    proc = subprocess.run(
        [sys.executable, "-m", "prove_lightning.cli", "plan", "sweep=demo", f"paths.output_root={tmp_path}", "--count"],
        env=job_env(PATH=os.environ["PATH"]), capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "runs: done 0" in proc.stdout and "to_run" in proc.stdout
