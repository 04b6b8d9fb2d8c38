"""The LSF executor (prove_lightning.launchers.lsf) and its Hydra launcher.

LSF cannot be installed here. These tests check what can be checked without it: the bsub scripts and
command lines the executor builds, its parsing of recorded bsub / bjobs outputs, and a full Hydra sweep
through STAND-INS for bsub / bjobs / bkill / brequeue. The stand-ins are small scripts written below that run
each job (or job-array element) as a local process with LSF's environment variables; they are not LSF and
prove nothing about a real LSF installation beyond the command lines and environment it is given.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from prove_lightning.launchers.lsf import LSF_STATES, LsfExecutor, LsfInfoWatcher, LsfJobEnvironment, lsf_job_id, make_bsub_script

FAKE_BSUB = r'''#!{python}
"""STAND-IN for LSF's bsub (no LSF here): reads the job script on stdin, runs each array element locally."""
import json, os, re, shlex, socket, subprocess, sys, time, fcntl
from pathlib import Path
state = Path(os.environ["FAKE_LSF_DIR"])
with open(state / "calls.log", "a") as f:
    f.write(json.dumps(["bsub", *sys.argv[1:]]) + "\n")
if sys.argv[1:2] == ["--run"]:  # the background supervisor of one submission
    job = sys.argv[2]
    spec = json.loads((state / f"{job}.json").read_text())
    running = {}
    todo = list(spec["indices"])
    while todo or running:
        while todo and len(running) < spec["parallel"]:
            i = todo.pop(0)
            sub = lambda p: p.replace("%J", job).replace("%I", str(i))
            out, err = Path(sub(spec["o"])), Path(sub(spec.get("e") or spec["o"]))
            out.parent.mkdir(parents=True, exist_ok=True); err.parent.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ, LSB_JOBID=job, LSB_JOBINDEX=str(i), LSB_HOSTS=socket.gethostname())
            p = subprocess.Popen(["bash", str(state / f"{job}.sh")], env=env, stdout=open(out, "a"), stderr=open(err, "a"))
            (state / f"{job}_{i}.stat").write_text(f"RUN|-|{p.pid}")
            running[i] = p
        for i, p in list(running.items()):
            rc = p.poll()
            if rc is None:
                continue
            del running[i]
            if (state / f"{job}_{i}.requeue").exists():
                (state / f"{job}_{i}.requeue").unlink()
                todo.append(i)
                (state / f"{job}_{i}.stat").write_text("PEND|-|0")
            else:
                (state / f"{job}_{i}.stat").write_text(("DONE|-|0" if rc == 0 else f"EXIT|{rc}|0"))
        time.sleep(0.2)
    sys.exit(0)
script = sys.stdin.read()
opts = {}
for line in script.splitlines():
    if line.startswith("#BSUB"):
        parts = shlex.split(line[5:])
        opts[parts[0].lstrip("-")] = " ".join(parts[1:])
with open(state / "counter", "a+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.seek(0)
    job = str(int(f.read() or 100) + 1)
    f.seek(0); f.truncate(); f.write(job)
m = re.fullmatch(r"(.+)\[(\d+)-(\d+)\](?:%(\d+))?", opts["J"])
indices = list(range(int(m[2]), int(m[3]) + 1)) if m else [0]
parallel = int(m[4]) if m and m[4] else len(indices)
(state / f"{job}.sh").write_text(script)
(state / f"{job}.json").write_text(json.dumps({"indices": indices, "parallel": parallel, "o": opts["o"], "e": opts.get("e")}))
for i in indices:
    (state / f"{job}_{i}.stat").write_text("PEND|-|0")
subprocess.Popen([sys.executable, __file__, "--run", job], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"Job <{job}> is submitted to queue <{opts.get('q', 'normal')}>.")
'''

FAKE_BJOBS = r'''#!{python}
"""STAND-IN for LSF's bjobs: answers `bjobs -a -noheader -o "jobid jobindex stat exit_code delimiter='|'" ID...`."""
import json, os, sys
from pathlib import Path
state = Path(os.environ["FAKE_LSF_DIR"])
with open(state / "calls.log", "a") as f:
    f.write(json.dumps(["bjobs", *sys.argv[1:]]) + "\n")
args = sys.argv[1:]
fmt = args[args.index("-o") + 1] if "-o" in args else ""
ids = [a for a in args if a[:1].isdigit()]
rc = 0
for job in ids:
    stats = sorted(state.glob(f"{job}_*.stat"))
    if not stats:
        print(f"Job <{job}> is not found", file=sys.stderr)
        rc = 255
    for st in stats:
        index = st.stem.split("_")[1]
        stat, code, _ = st.read_text().split("|")
        if fmt.startswith("stat"):
            print(stat)
        else:
            print(f"{job}|{index}|{stat}|{code}")
sys.exit(rc)
'''

FAKE_KILL = r'''#!{python}
"""STAND-IN for LSF's {name}: signals (bkill) or requeues (brequeue -r) a locally running element."""
import json, os, re, signal, sys
from pathlib import Path
state = Path(os.environ["FAKE_LSF_DIR"])
with open(state / "calls.log", "a") as f:
    f.write(json.dumps(["{name}", *sys.argv[1:]]) + "\n")
args = sys.argv[1:]
sig = signal.SIGTERM
if "-s" in args:
    sig = getattr(signal, "SIG" + args[args.index("-s") + 1])
m = re.fullmatch(r"(\d+)(?:\[(\d+)\])?", args[-1])
job, index = m[1], m[2] or "0"
st = state / f"{job}_{index}.stat"
if "{name}" == "brequeue":
    (state / f"{job}_{index}.requeue").touch()
pid = int(st.read_text().split("|")[2])
if pid:
    os.kill(pid, sig)
'''


@pytest.fixture
def fake_lsf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Puts the stand-in LSF commands first on PATH; returns their state folder (calls.log records every call)."""
    bin_dir, state = tmp_path / "fake_lsf_bin", tmp_path / "fake_lsf_state"
    bin_dir.mkdir()
    state.mkdir()
    scripts = {"bsub": FAKE_BSUB, "bjobs": FAKE_BJOBS, "bkill": FAKE_KILL, "brequeue": FAKE_KILL}
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text.replace("{python}", sys.executable).replace("{name}", name))
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LSF_DIR", str(state))
    return state


def test_submitit_finds_the_lsf_executor_through_its_entry_point() -> None:
    from submitit.core import plugins

    assert "lsf" in plugins.get_executors(), "run `pip install -e .` (make env): pyproject registers [project.entry-points.submitit]"
    assert plugins.get_executors()["lsf"] is LsfExecutor
    assert "lsf" in plugins.get_job_environments()


def test_bsub_script_of_a_job_array_carries_every_resource(fake_lsf: Path) -> None:
    import submitit

    ex = submitit.AutoExecutor(folder=fake_lsf / "sub/%j", cluster="lsf")
    ex.update_parameters(
        name="train", timeout_min=90, cpus_per_task=4, gpus_per_node=1, mem_gb=16, tasks_per_node=1,
        lsf_queue="gpu", lsf_project="prove", lsf_signal_delay_s=120, lsf_array_parallelism=2,
        lsf_setup=["module load cuda"], lsf_additional_parameters={"G": "vision"},
    )
    params = dict(ex._executor.parameters, map_count=3)
    text = make_bsub_script(command="python -m x", folder=ex._executor.folder, **params)
    lines = text.splitlines()
    for expected in (
        '#BSUB -J "train[1-3]%2"', "#BSUB -W 1:30", "#BSUB -n 4", '#BSUB -R "span[hosts=1]"', "#BSUB -M 16GB",
        '#BSUB -gpu "num=1:mode=exclusive_process"', "#BSUB -q gpu", "#BSUB -P prove", "#BSUB -wa USR2",
        "#BSUB -wt 0:02", "#BSUB -G vision", "module load cuda", "export SUBMITIT_EXECUTOR=lsf", "python -m x",
    ):
        assert expected in lines, expected
    assert f"#BSUB -o {fake_lsf}/sub/%J_%I/%J_%I_0_log.out" in lines  # LSF's %J / %I for submitit's job id
    single = make_bsub_script(command="c", folder=fake_lsf / "sub/%j", job_name="one", time=5)
    assert '#BSUB -J "one"' in single and f"#BSUB -o {fake_lsf}/sub/%J/%J_0_log.out" in single
    assert LsfExecutor(fake_lsf)._make_submission_command(Path("/x/s.sh")) == ["/bin/sh", "-c", 'exec bsub < "$1"', "bsub", "/x/s.sh"]
    with pytest.raises(ValueError, match="Unavailable parameter"):
        ex._executor.update_parameters(partition="debug")  # a SLURM word is not an LSF parameter


def test_parses_recorded_bsub_and_bjobs_outputs() -> None:
    assert LsfExecutor._get_job_id_from_submission_command(b"Job <4242> is submitted to queue <gpu>.\n") == "4242"
    assert LsfExecutor._get_job_id_from_submission_command("Job <17> is submitted to default queue <normal>.") == "17"
    from submitit.core.utils import FailedSubmissionError

    with pytest.raises(FailedSubmissionError):
        LsfExecutor._get_job_id_from_submission_command("Request aborted by esub. Job not submitted.")
    recorded = "4242|1|RUN|-\n4242|2|PEND|-\n4242|3|DONE|-\n4243|0|EXIT|1\n4244|0|USUSP|-\nJob <9> is not found\n"
    info = LsfInfoWatcher().read_info(recorded)
    assert {k: v["State"] for k, v in info.items()} == {
        "4242_1": "RUNNING", "4242_2": "PENDING", "4242_3": "COMPLETED", "4243": "FAILED", "4244": "RUNNING",
    }
    assert info["4243"]["ExitCode"] == "1"
    assert set(LSF_STATES) >= {"PEND", "RUN", "DONE", "EXIT", "PSUSP", "USUSP", "SSUSP", "UNKWN", "WAIT", "ZOMBI"}
    watcher = LsfInfoWatcher()
    watcher.register_job("4242_1")
    watcher.register_job("4243")
    assert watcher._make_command() == ["bjobs", "-a", "-noheader", "-o", "jobid jobindex stat exit_code delimiter='|'", "4242", "4243"]
    assert lsf_job_id("4242_3") == "4242[3]" and lsf_job_id("4243") == "4243"


def test_job_environment_of_an_array_element_and_self_requeue(fake_lsf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "lsf")
    monkeypatch.setenv("LSB_JOBID", "4242")
    monkeypatch.setenv("LSB_JOBINDEX", "3")
    monkeypatch.setenv("LSB_HOSTS", "n1 n1 n2")
    env = LsfJobEnvironment()
    assert (env.job_id, env.array_job_id, env.array_task_id, env.num_nodes, env.hostnames) == ("4242_3", "4242", "3", 2, ["n1", "n2"])
    (fake_lsf / "4242_3.stat").write_text("RUN|-|0")
    env._requeue(countdown=2)  # what submitit calls after the time-limit warning (SIGUSR2)
    assert '["brequeue", "-r", "4242[3]"]' in (fake_lsf / "calls.log").read_text()
    monkeypatch.setenv("LSB_JOBINDEX", "0")  # not an array job
    assert LsfJobEnvironment().job_id == "4242"


@pytest.mark.slow
def test_toycity_sweep_through_the_lsf_launcher_and_stand_in_bsub(fake_lsf: Path, tmp_path: Path, cache_root: Path) -> None:
    """A whole Hydra sweep through hydra/launcher=lsf; the jobs run locally under the STAND-IN bsub."""
    from prove_lightning.data.domains import DOMAINS
    from prove_lightning.evaluation.results import read_results
    from slurm.runner import ensure_small_toycity, job_env, run_train, tiny

    ensure_small_toycity(cache_root)
    out = tmp_path / "out"
    args = [
        "-m", "hydra/launcher=lsf", f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.launcher.queue=normal",
        "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
        "hydra.launcher.timeout_min=10", "hydra.launcher.array_parallelism=2", "stage=demo,s2", *tiny(out, cache_root, steps=2),
    ]
    proc = run_train(args, job_env(), timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    store = read_results(out)
    for stage in ("demo", "s2"):
        run_id = f"{stage}/baseline/toycity/segformer_b0"
        assert len(store[store.run_id == run_id]) == len(DOMAINS) + 1
        assert (out / run_id / "checkpoints/step_2.ckpt").is_file()
    calls = (fake_lsf / "calls.log").read_text()
    assert '"bjobs", "-a", "-noheader", "-o", "jobid jobindex stat exit_code delimiter=\'|\'"' in calls
    script = (fake_lsf / "101.sh").read_text()
    for expected in ('#BSUB -J "train[1-2]%2"', "#BSUB -q normal", "#BSUB -W 0:10", "#BSUB -M 1GB", "#BSUB -wa USR2"):
        assert expected in script.splitlines(), expected
    logs = sorted((tmp_path / "sweep/.submitit").glob("101_*/101_*_0_log.out"))
    assert [p.parent.name for p in logs] == ["101_1", "101_2"]  # one array element per run, LSB_JOBINDEX 1..2


def test_a_multi_gpu_lsf_job_gets_slots_ptile_and_one_jsrun_task_per_rank(tmp_path: Path) -> None:
    """hydra/launcher=lsf_ddp's resources as bsub directives (no LSF here: the script text is what is checked)."""
    from hydra import compose as hydra_compose, initialize_config_dir

    from prove_lightning.config import CONF_DIR

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        launcher = hydra_compose("train", ["hydra/launcher=lsf_ddp", "hydra.launcher.nodes=2", "hydra.launcher.tasks_per_node=4"], return_hydra_config=True).hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node, launcher.task_launcher) == (2, 4, 4, "jsrun")
    text = make_bsub_script(
        "python -u -m submitit.core._submit /f", tmp_path, nodes=2, ntasks_per_node=4, cpus_per_task=8, gpus_per_node=4, task_launcher="jsrun"
    )
    lines = text.splitlines()
    for expected in ("#BSUB -n 64", '#BSUB -R "span[ptile=32]"', '#BSUB -gpu "num=4:mode=exclusive_process"'):
        assert expected in lines, expected
    assert "jsrun --nrs 8 --rs_per_host 4 --tasks_per_rs 1 --cpu_per_rs 8 --gpu_per_rs 1 --bind none python -u -m submitit.core._submit /f" in lines
    one_node = make_bsub_script("c", tmp_path, nodes=1, ntasks_per_node=2, cpus_per_task=4, gpus_per_node=2, task_launcher="mpirun")
    assert '#BSUB -R "span[hosts=1]"' in one_node and "mpirun -np 2 --map-by ppr:2:node c" in one_node
    assert "jsrun" not in make_bsub_script("c", tmp_path, nodes=1, ntasks_per_node=1)  # one task: the command as is
    with pytest.raises(ValueError, match="task_launcher"):
        make_bsub_script("c", tmp_path, nodes=1, ntasks_per_node=2, task_launcher="blaunch")


def test_ranks_under_the_environment_lsf_and_jsrun_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of rank 1 of a 2-node jsrun launch inside LSF job 4242 (LSB_* from LSF, JSM_* from jsrun),
    as LSF documents it; there is no LSF here to record it from a real job. Lightning's LSFEnvironment and our
    rank control read the same ranks; rank 0's one-process test gets a plain environment."""
    from lightning_fabric.plugins.environments import LightningEnvironment, LSFEnvironment

    from prove_lightning.runs.ddp import single_process_plugins
    from prove_lightning.runs.ranks import detect_role

    import socket

    me = socket.gethostname()  # this process plays a task on the job's first compute node
    rankfile = tmp_path / "rankfile"
    rankfile.write_text(f"batch1\n{me}\n{me}\nnode2\nnode2\n")  # first line: the launch node, then one per slot
    env = {
        "LSB_JOBID": "4242", "LSB_JOBINDEX": "0", "LSB_DJOB_RANKFILE": str(rankfile), "LSB_HOSTS": f"{me} {me} node2 node2",
        "JSM_NAMESPACE_RANK": "1", "JSM_NAMESPACE_LOCAL_RANK": "1", "JSM_NAMESPACE_SIZE": "4",
    }
    for k in [k for k in os.environ if k.startswith(("SLURM_", "LSB_", "JSM_", "OMPI_", "PMI", "TORCHELASTIC"))] + ["RANK", "WORLD_SIZE", "LOCAL_RANK"]:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    role = detect_role()
    assert (role.rank, role.world_size, role.launcher, role.decides) == (1, 4, "lsf", False)
    assert role.launch_id.startswith("lsf-4242")
    assert LSFEnvironment.detect()
    lsf = LSFEnvironment()
    assert (lsf.global_rank(), lsf.local_rank(), lsf.world_size(), lsf.node_rank(), lsf.main_address) == (1, 1, 4, 0, me)
    assert lsf.creates_processes_externally
    assert [type(p) for p in single_process_plugins()] == [LightningEnvironment]
