"""A ToyCity sweep on a real single-node SLURM cluster (munge, MariaDB, slurmdbd, slurmctld, slurmd).

The cluster is started for this module by tests/slurm/cluster.sh and torn down after it. The sweep goes
through hydra-submitit-launcher (`hydra/launcher=slurm`) as one job array; one of its jobs is preempted with
`scontrol requeue` mid-training, released, resumes from its last checkpoint and finishes once. Needs root and
Debian's slurm packages (`make slurm`); PROVE_SKIP_SLURM=1 switches these tests off explicitly (reported as
skipped), anything else missing is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from prove_lightning.data.domains import DOMAINS
from prove_lightning.evaluation.results import read_results
from slurm.runner import ensure_small_toycity, job_env, pause_at, tiny, train_cmd

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
CLUSTER = Path(__file__).resolve().parent / "slurm" / "cluster.sh"
NEEDS = ("munged", "mungekey", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct", "scontrol")


def _sh(*cmd: str, timeout: float = 60) -> str:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=True).stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    if os.environ.get("PROVE_SKIP_SLURM") == "1":
        pytest.skip("PROVE_SKIP_SLURM=1: the real-SLURM tests were switched off on purpose")
    missing = [b for b in NEEDS if shutil.which(b) is None]
    if missing:
        pytest.fail(f"the SLURM test cluster needs {missing}: run `make slurm` (as root), or set PROVE_SKIP_SLURM=1 to skip")
    root = tmp_path_factory.mktemp("slurm")
    t0 = time.time()
    up = subprocess.run([str(CLUSTER), "start", str(root)], capture_output=True, text=True, timeout=300)
    if up.returncode != 0:
        subprocess.run([str(CLUSTER), "stop", str(root)], capture_output=True, timeout=120)
        pytest.fail(f"the SLURM test cluster did not start:\n{up.stderr[-4000:]}")
    started = time.time() - t0
    conf = root / "etc/slurm.conf"
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        yield SimpleNamespace(root=root, conf=conf, start_s=started)
    finally:
        t1 = time.time()
        subprocess.run([str(CLUSTER), "stop", str(root)], capture_output=True, timeout=120)
        print(f"\nSLURM test cluster: start {started:.1f} s, stop {time.time() - t1:.1f} s")
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


def _wait(what: str, cond, timeout: float, proc: subprocess.Popen | None = None) -> None:  # noqa: ANN001
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the sweep ended before {what}:\n{proc.communicate()[0][-4000:]}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _state(job_id: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T %r"], capture_output=True, text=True, timeout=30).stdout.strip()


def test_toycity_sweep_on_real_slurm_with_preempted_and_requeued_jobs(cluster, tmp_path: Path, cache_root: Path) -> None:
    """Two jobs, both stopped mid-training: one by `scontrol requeue` (SIGTERM, SLURM requeues it), the other by
    the warning signal submitit asks for before a time limit (SIGUSR2: submitit checkpoints and requeues it)."""
    ensure_small_toycity(cache_root)
    out, marker, sweep_dir = tmp_path / "out", tmp_path / "marker", tmp_path / "sweep"
    how = {"demo": "requeue", "s2": "usr2"}
    args = [
        "-m", "hydra/launcher=slurm", f"hydra.sweep.dir={sweep_dir}",
        "hydra.launcher.partition=debug", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
        "hydra.launcher.timeout_min=10", "hydra.launcher.gpus_per_node=1", "hydra.launcher.array_parallelism=2",
        f"stage={','.join(how)}",
        # 6 steps, no periodic checkpoint before step 5: a resume can only come from the preemption save
        *tiny(out, cache_root, steps=6, workers=1, ckpt_every=5), *pause_at(marker, 3),
    ]
    t0 = time.time()
    sweep = subprocess.Popen(train_cmd(*args), env=job_env(SLURM_CONF=str(cluster.conf)), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    jobs: dict[str, dict] = {}
    try:
        # both jobs of the array reach step 3 and wait there
        _wait("both jobs to reach step 3", lambda: len(list(marker.glob("paused-*"))) == len(how), 300, sweep)
        for f in marker.glob("paused-*"):
            info = json.loads(f.read_text())
            jobs[Path(info["run_dir"]).parts[-4]] = info
        assert sorted(jobs) == sorted(how) and all("_" in j["job_id"] for j in jobs.values()), jobs
        _sh("scontrol", "requeue", jobs["demo"]["job_id"])
        _sh("scancel", "--signal=USR2", jobs["s2"]["job_id"])
        for info in jobs.values():
            _wait(f"job {info['job_id']} to be requeued and held", lambda: _state(info["job_id"]).startswith("PENDING"), 120)
            _sh("scontrol", "update", f"jobid={info['job_id']}", "StartTime=now")
        output = sweep.communicate(timeout=600)[0]
    finally:
        if sweep.poll() is None:
            sweep.kill()
    wall = time.time() - t0
    print(f"\nSLURM sweep ({len(how)} jobs, both preempted and requeued): {wall:.1f} s")
    assert sweep.returncode == 0, output[-4000:]

    # every job's results: a run directory with its final checkpoint, one set of rows in the store
    store = read_results(out)
    assert not store.duplicated(["run_id", "step", "test_dataset", "domain"]).any()
    for stage in how:
        run_id = f"{stage}/baseline/toycity/segformer_b0"
        rows = store[store.run_id == run_id]
        assert len(rows) == len(DOMAINS) + 1 and set(rows.step) == {6}, run_id
        assert (out / run_id / "checkpoints/step_6.ckpt").is_file() and (out / run_id / "config.yaml").is_file()
        assert not (out / run_id / "run.lock").exists()

    # each job: requeued once, resumed from the checkpoint saved when it was stopped, completed once
    for stage, info in jobs.items():
        job_id = info["job_id"]

        def states() -> list[str]:  # the job's allocation records (results come back before it has ended)
            records = [line.split("|") for line in _sh("sacct", "-j", job_id, "--duplicates", "-n", "-P", "-o", "JobID,State").split()]
            return [state for jid, state in records if jid == job_id]

        _wait(f"job {job_id} to end", lambda: not {"RUNNING", "COMPLETING", "PENDING"} & set(states()), 60)
        assert sorted(states()) == ["COMPLETED", "REQUEUED"], (stage, states())
        log = (sweep_dir / ".submitit" / job_id / f"{job_id}_0_log.out").read_text()
        signal_name = "SIGTERM" if how[stage] == "requeue" else "SIGUSR2"
        assert f"{signal_name}: saved" in log and "at step 4" in log, log[-3000:]
        if how[stage] == "usr2":
            assert "Requeued job" in log  # submitit's handler requeued it after our checkpoint
        assert f"resuming from {info['run_dir']}/checkpoints/last.ckpt" in log
        assert "step_2.ckpt" not in os.listdir(Path(info["run_dir"]) / "checkpoints")  # no periodic checkpoint before 5

    # resources reached SLURM: the generated sbatch script and what the jobs were given
    array = jobs["demo"]["job_id"].split("_")[0]
    script = (sweep_dir / ".submitit" / array / f"{array}_submission.sh").read_text()
    for flag in ("--partition=debug", "--cpus-per-task=1", "--mem=1GB", "--time=10", "--gpus-per-node=1", "--array=0-1%2", "--signal=USR2@120"):
        assert f"#SBATCH {flag}\n" in script, flag
    alloc = _sh("sacct", "-j", array, "-n", "-P", "-X", "-o", "JobID,AllocTRES")
    assert alloc.count("gres/gpu=1") >= len(how), alloc


def test_a_two_task_ddp_job_on_real_slurm_trains_and_tests_once(cluster, tmp_path: Path, cache_root: Path) -> None:
    """One job, 2 tasks on one node (`--ntasks-per-node=2`, CPU, gloo) through hydra/launcher=slurm_ddp: srun starts
    both ranks, Lightning's SLURMEnvironment sees them, rank 0 decides and rank 1 waits for its decision file.
    Trained and tested once (one set of rows, no stale lock); the two ranks' batches are the global batch one
    process with batch 4 loads; the 2-rank validation inside the job and the job's test rows equal a 1-process
    evaluation of the job's checkpoint, exactly."""
    from slurm.ddp_eval import evaluate

    from prove_lightning.config import instantiate
    from omegaconf import OmegaConf

    ensure_small_toycity(cache_root)
    out, sweep_dir, log_dir = tmp_path / "out", tmp_path / "sweep", tmp_path / "batches"
    args = [
        "-m", "hydra/launcher=slurm_ddp", f"hydra.sweep.dir={sweep_dir}", "hydra.launcher.partition=debug",
        "hydra.launcher.tasks_per_node=2", "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10", "stage=demo",
        *tiny(out, cache_root, steps=4, workers=0, ckpt_every=4), "trainer=ddp_cpu", "data.batch_size=2",
        "+callbacks.batch_log._target_=jobhelpers.BatchLog", f"+callbacks.batch_log.out_dir={log_dir}",
    ]
    t0 = time.time()
    proc = subprocess.run(train_cmd(*args), env=job_env(SLURM_CONF=str(cluster.conf)), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    print(f"\nSLURM 2-task DDP job: {time.time() - t0:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_id = "demo/baseline/toycity/segformer_b0"
    run_dir = out / run_id
    rows = read_results(out)
    assert len(rows) == len(DOMAINS) + 1 and set(rows.run_id) == {run_id} and set(rows.step) == {4}
    assert not (run_dir / "run.lock").exists() and not (run_dir / ".ranks").exists()
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["last.ckpt", "step_4.ckpt"]

    # two srun tasks of one job; the rank-0 task decided, the other followed
    array = next(p.name for p in (sweep_dir / ".submitit").iterdir() if p.is_dir() and "_" not in p.name and p.name.isdigit())
    script = next((sweep_dir / ".submitit").glob(f"{array}*/*_submission.sh"), None) or next((sweep_dir / ".submitit").glob("*_submission.sh"))
    text = script.read_text()
    assert "#SBATCH --ntasks-per-node=2\n" in text and "srun" in text, text
    logs = {p.name: p.read_text() for p in (sweep_dir / ".submitit").rglob("*_log.err")} | {p.name: p.read_text() for p in (sweep_dir / ".submitit").rglob("*_log.out")}
    joined = "\n".join(logs.values())
    assert "rank 0 of 2 (slurm" in joined and "decided: train" in joined, joined[-3000:]
    r0, r1 = [[json.loads(x) for x in (log_dir / f"rank{r}.jsonl").read_text().splitlines()] for r in (0, 1)]
    assert [x["world"] for x in r0 + r1] == [2] * 8 and [x["step"] for x in r1] == [0, 1, 2, 3]

    # the global batch one process with batch 4 loads
    cfg = OmegaConf.load(run_dir / "config.yaml")
    assert cfg.trainer.devices == 2 and json.loads((run_dir / "audit.json").read_text())["batch"]["global"] == 4
    cfg.data.batch_size = 4
    dm = instantiate(cfg.data)
    dm.index()
    for a, b, batch in zip(r0, r1, dm.train_dataloader()):
        one = sorted(zip(batch["index"].tolist(), batch["image"].long().sum(dim=(1, 2, 3)).tolist()))
        assert sorted([*zip(a["index"], a["image_sum"]), *zip(b["index"], b["image_sum"])]) == one, a["step"]

    # metrics: 2-rank validation in the job and the job's rows == a 1-process evaluation of its checkpoint
    ref = evaluate(str(run_dir), str(run_dir / "checkpoints/step_4.ckpt"), 1)
    val2 = json.loads((log_dir / "val_step4.json").read_text())
    for dom, m in ref["val"].items():
        for k in ("mIoU", "aAcc", "mAcc", "n_pixels", "n_images"):
            assert val2[dom][k] == pytest.approx(m[k], abs=1e-12), ("val", dom, k)
    for dom, m in ref["test"]["toycity"].items():
        row = rows[rows.domain == dom].iloc[0]
        assert float(row.mIoU) == pytest.approx(m["mIoU"], abs=1e-9) and int(row.n_images) == m["n_images"], dom
