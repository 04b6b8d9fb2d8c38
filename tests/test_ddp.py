"""DDP semantics with 2 CPU processes (gloo), launched the way a user does (`python -m prove_lightning.train
trainer=ddp_cpu trainer.devices=2`, Lightning's own subprocess launcher).

One 2-process training run (4 steps, 2 samples per rank: global batch 4, 75 % real) is shared by every
assertion; it is then resumed on ONE process with the same global batch (4 samples) to step 6, and its
checkpoint is validated and tested once more on 2 processes (tests/slurm/ddp_eval.py). What is checked:
- rank control: the run trains and tests once, no stale lock, one set of result rows, rank 0 alone writes;
- every rank sees a disjoint slice of the same global batch; together they are exactly the batch one process
  with batch 4 loads (same indices, same augmented pixels), and the run records global batch = 2 x 2;
- the mixed sampler's real/generated counts per rank (2+0 and 1+1) and globally (3+1 = floor(4 x 0.75));
- per-domain confusion matrices are summed over ranks before metrics: 2-process val and test metrics equal
  1-process ones on the same weights, exactly;
- checkpoints are saved once (rank 0) and a 2-process checkpoint resumes on 1 process, continuing the sample
  sequence of the same global batch;
- the LR rule sees the global batch (the LR of 2 x 2 equals that of 1 x 4).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from prove_lightning.config import instantiate
from prove_lightning.evaluation.results import read_results
from slurm.ddp_eval import evaluate
from slurm.runner import HELPERS, ensure_small_toycity, job_env, run_train, tiny

pytestmark = pytest.mark.slow
RUN = "demo/gen_random_noise/toycity/segformer_b0_ratio0p75"
KEYS = ("mIoU", "aAcc", "mAcc", "fwIoU", "n_pixels", "n_images")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _args(out: Path, cache: Path, log_dir: Path, *extra: str) -> list[str]:
    return [
        "stage=demo", "dataset=toycity", "strategy=gen_random_noise", "strategy.ratio=0.75",
        *tiny(out, cache, steps=4, workers=0, ckpt_every=2), "data.batch_size=2",
        "+callbacks.batch_log._target_=jobhelpers.BatchLog", f"+callbacks.batch_log.out_dir={log_dir}", *extra,
    ]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory, cache_root: Path) -> SimpleNamespace:
    ensure_small_toycity(cache_root)
    root = tmp_path_factory.mktemp("ddp")
    out, env = root / "out", job_env()
    two = run_train(_args(out, cache_root, root / "log2", "trainer=ddp_cpu", "trainer.devices=2"), env, 600, root)
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
    run_dir = out / RUN
    rows_after_two = read_results(out)
    audit_two = json.loads((run_dir / "audit.json").read_text())
    ckpts_two = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    # the 2-process checkpoint, validated and tested again on 2 processes (Lightning DDP, ShardSampler shards)
    ev = root / "eval2.json"
    proc = subprocess.run(
        [sys.executable, str(HELPERS / "ddp_eval.py"), str(run_dir), str(run_dir / "checkpoints/step_4.ckpt"), "2", str(ev)],
        env=env, cwd=root, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    eval_two = json.loads(ev.read_text())
    # resumed on ONE process with the same global batch (1 x 4), to step 6
    # a deliberate change of world size and horizon: allowed explicitly, recorded in history.jsonl (identity guard)
    one = run_train(_args(out, cache_root, root / "log1", "data.batch_size=4", "trainer.max_steps=6", "trainer.val_check_interval=6", "allow_config_change=true"), env, 600, root)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    return SimpleNamespace(
        root=root, out=out, run_dir=run_dir, two=two, one=one, rows_two=rows_after_two, audit_two=audit_two, ckpts_two=ckpts_two,
        eval_two=eval_two, log2=root / "log2", log1=root / "log1",
    )


def test_two_processes_train_and_test_once(ddp_run: SimpleNamespace) -> None:
    rows = ddp_run.rows_two
    assert not rows.duplicated(["run_id", "step", "test_dataset", "domain"]).any()
    assert set(rows.run_id) == {RUN} and set(rows.step) == {4}
    assert not (ddp_run.run_dir / "run.lock").exists()
    assert "mIoU per domain" in ddp_run.two.stdout and ddp_run.two.stdout.count("@ step 4: mIoU per domain") == 1
    # checkpoints written once, by rank 0 (periodic step_2/step_4, last), config and version by rank 0 only
    assert ddp_run.ckpts_two == ["last.ckpt", "step_2.ckpt", "step_4.ckpt"]
    assert (ddp_run.run_dir / "config.yaml").is_file() and (ddp_run.run_dir / "version.json").is_file()
    assert not (ddp_run.run_dir / ".ranks").exists()  # Lightning's workers learnt the decision from the environment
    batch = ddp_run.audit_two["batch"]
    assert batch["per_device"] == 2 and batch["world_size"] == 2 and batch["global"] == 4


def test_ranks_see_disjoint_slices_of_the_global_batch_one_process_loads(ddp_run: SimpleNamespace, cache_root: Path) -> None:
    r0, r1 = _lines(ddp_run.log2 / "rank0.jsonl"), _lines(ddp_run.log2 / "rank1.jsonl")
    assert [x["step"] for x in r0] == [x["step"] for x in r1] == [0, 1, 2, 3]
    # the same global batch, loaded by one process with batch 4 from the run's own config
    cfg = OmegaConf.load(ddp_run.run_dir / "config.yaml")
    cfg.data.batch_size = 4
    dm = instantiate(cfg.data)
    dm.index()
    loader = dm.train_dataloader()
    single = []
    for step, batch in zip(range(4), loader):
        single.append(sorted(zip(batch["index"].tolist(), batch["image"].long().sum(dim=(1, 2, 3)).tolist(), batch["label"].long().sum(dim=(1, 2)).tolist())))
    for a, b, one in zip(r0, r1, single):
        mine = [sorted(zip(x["index"], x["image_sum"], x["label_sum"])) for x in (a, b)]
        assert not set(a["index"]) & set(b["index"]) or a["generated"] != b["generated"], a["step"]  # disjoint draws
        assert sorted(mine[0] + mine[1]) == one, f"step {a['step']}: ranks' batches != the 1-process global batch"
    # mixing: 75 % real of the global batch of 4 = 3 real, 1 generated: rank 0 gets 2 + 0, rank 1 gets 1 + 1
    assert {tuple(x["generated"]) for x in r0} == {(False, False)}
    assert {tuple(sorted(x["generated"])) for x in r1} == {(False, True)}
    realised = ddp_run.audit_two["realised"]
    assert realised["batches_off_schedule"] == 0 and realised["world_size"] == 2
    assert [(r["real"], r["generated"]) for r in realised["per_rank"]] == [(8, 0), (4, 4)]
    assert realised["global"]["real"] == 12 and realised["global"]["generated"] == 4


def test_two_process_val_and_test_metrics_equal_one_process(ddp_run: SimpleNamespace) -> None:
    ckpt = str(ddp_run.run_dir / "checkpoints/step_4.ckpt")
    one = evaluate(str(ddp_run.run_dir), ckpt, 1)
    two = ddp_run.eval_two
    assert two["world_size"] == 2 and one["world_size"] == 1
    fit_val = json.loads((ddp_run.log2 / "val_step4.json").read_text())  # validated inside the 2-process fit
    assert one["val"]["all"]["n_images"] == two["val"]["all"]["n_images"] > 0
    for dom in one["val"]:
        for k in KEYS:
            assert two["val"][dom][k] == pytest.approx(one["val"][dom][k], abs=1e-12), ("val", dom, k)
            assert fit_val[dom][k] == pytest.approx(one["val"][dom][k], abs=1e-12), ("val in fit", dom, k)
    rows = ddp_run.rows_two  # rank 0's final test of the training run (one process)
    for dom, m in one["test"]["toycity"].items():
        for k in KEYS:
            assert two["test"]["toycity"][dom][k] == pytest.approx(m[k], abs=1e-12), ("test", dom, k)
        assert float(rows[rows.domain == dom].mIoU.iloc[0]) == pytest.approx(m["mIoU"], abs=1e-9)


def test_a_two_process_checkpoint_resumes_on_one_process_with_the_same_global_batch(ddp_run: SimpleNamespace) -> None:
    log = ddp_run.one.stdout + ddp_run.one.stderr
    assert f"resuming from {ddp_run.run_dir}/checkpoints/last.ckpt" in log
    single = _lines(ddp_run.log1 / "rank0.jsonl")
    assert [x["step"] for x in single] == [4, 5] and {x["world"] for x in single} == {1}
    # steps 4-5 on one process continue the global sample sequence: the draws a 2-process run would make
    from prove_lightning.data.sampler import MixedBatchSampler

    dm = instantiate(OmegaConf.load(ddp_run.run_dir / "config.yaml").data)
    n_real, n_gen = len(dm.train_records) if dm.index() is None else 0, len(dm.index_generated())
    for x in single:
        per_rank = [MixedBatchSampler(n_real, n_gen, 2, 6, dm.seed, dm.mixing.schedule, rank=r, world_size=2).batch_at(x["step"]) for r in (0, 1)]
        assert sorted(x["index"]) == sorted(i for b in per_rank for i, _ in b)
    # the LR rule saw the global batch: 1e-3 at batch 8 (segformer_b0), linear -> 5e-4 for 2 x 2 and for 1 x 4
    assert ddp_run.audit_two["batch"]["lr"] == pytest.approx(1e-3 * 4 / 8)
    audit = json.loads((ddp_run.run_dir / "audit.json").read_text())
    assert audit["batch"] == {**ddp_run.audit_two["batch"], "per_device": 4, "world_size": 1}
    rows = read_results(ddp_run.out)
    assert set(rows.step) == {4, 6} and not rows.duplicated(["run_id", "step", "test_dataset", "domain"]).any()
    assert not (ddp_run.run_dir / "run.lock").exists()
