"""The catalogue of bad inputs: each gives one clear message (the fragment below), the expected exit status, and
leaves every file it found as it was (reliability_helpers.changed). Table-driven; run alone: pytest -m reliability.

Outcomes: 'error' = one ``error: ...`` line, exit 2 (the issue's 21 tracebacks are among these); 'hydra' = Hydra's
own message listing the options, exit 1; 'skipped-row' = a results.csv row reported with file:line and reason and
left out, the command carrying on (exit 0).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
import torch
from reliability_helpers import changed, run_prove_cli, run_train_cli, snapshot

pytestmark = pytest.mark.reliability

BASE = ["stage=demo", "model=segformer_b0", "trainer=cpu", "trainer.max_steps=2", "data.num_workers=0", "trainer.enable_progress_bar=false",
        "dataset.source.height=64", "dataset.source.width=128", "dataset.source.n_train=16", "dataset.source.n_test=4",
        "dataset.train_pipeline.scale=[128,64]", "dataset.train_pipeline.crop_size=[64,96]"]
GEN = ["strategy=gen_CUT"]

#: through the real entry point (Hydra + launch guard + user_errors, in this process); the others through the same
#: launch guard on a config composed once (the entry point's code minus Hydra's start-up: fast)
CLI_CASES = {"seed-abc", "ratio-abc", "max-steps-abc", "lr-negative", "workers-negative", "ckpt-missing", "model-unknown", "dataset-unknown"}

# (id, overrides, expected fragment, exit status, outcome)
CONFIG_CASES: list[tuple[str, list[str], str, int, str]] = [
    ("seed-abc", ["seed=abc"], "seed=abc: must be a non-negative integer", 2, "error"),
    ("seed-negative", ["seed=-1"], "seed=-1: must be a non-negative integer", 2, "error"),
    ("seed-fraction", ["seed=1.5"], "seed=1.5: must be a non-negative integer", 2, "error"),
    ("ratio-abc", [*GEN, "strategy.ratio=abc"], "strategy.ratio=abc: must be a number in [0, 1]", 2, "error"),
    ("ratio-above-1", [*GEN, "strategy.ratio=1.5"], "strategy.ratio=1.5: must be a number in [0, 1]", 2, "error"),
    ("ratio-negative", [*GEN, "strategy.ratio=-0.1"], "strategy.ratio=-0.1: must be a number in [0, 1]", 2, "error"),
    ("max-steps-abc", ["trainer.max_steps=abc"], "trainer.max_steps=abc: must be a positive number of steps", 2, "error"),
    ("max-steps-zero", ["trainer.max_steps=0"], "trainer.max_steps must be a positive number of steps, got 0", 2, "error"),
    ("max-steps-negative", ["trainer.max_steps=-5"], "trainer.max_steps must be a positive number of steps, got -5", 2, "error"),
    ("max-steps-fraction", ["trainer.max_steps=2.5"], "trainer.max_steps=2.5: must be a positive number of steps", 2, "error"),
    ("val-interval-zero", ["trainer.val_check_interval=0"], "trainer.val_check_interval=0: must be a positive number", 2, "error"),
    ("val-interval-abc", ["trainer.val_check_interval=abc"], "trainer.val_check_interval=abc", 2, "error"),
    ("lr-negative", ["model.lr=-1"], "model.lr=-1: must be a positive learning rate", 2, "error"),
    ("lr-zero", ["model.lr=0"], "model.lr=0: must be a positive learning rate", 2, "error"),
    ("lr-abc", ["model.lr=abc"], "model.lr=abc: must be a positive learning rate", 2, "error"),
    ("lr-nan", ["model.lr=nan"], "model.lr=nan: must be a positive learning rate", 2, "error"),
    ("workers-negative", ["data.num_workers=-1"], "data.num_workers=-1: must be a non-negative number of loader processes", 2, "error"),
    ("workers-abc", ["data.num_workers=abc"], "data.num_workers=abc", 2, "error"),
    ("batch-zero", ["data.batch_size=0"], "data.batch_size=0: must be a positive batch size", 2, "error"),
    ("batch-abc", ["data.batch_size=abc"], "data.batch_size=abc", 2, "error"),
    ("ckpt-interval-zero", ["stage.checkpoint_interval=0"], "stage.checkpoint_interval=0", 2, "error"),
    ("detect-divergence-word", ["trainer.detect_divergence=maybe"], "trainer.detect_divergence=maybe: must be true or false", 2, "error"),
    ("spike-factor-below-1", ["divergence.loss_spike_factor=0.5"], "divergence.loss_spike_factor=0.5: must be a factor > 1", 2, "error"),
    ("spike-window-zero", ["divergence.window=0"], "divergence.window=0", 2, "error"),
    ("test-after-word", ["test_after_training=perhaps"], "test_after_training=perhaps: must be true or false", 2, "error"),
    ("clip-negative", ["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val=-1", 2, "error"),
    ("ckpt-missing", ["ckpt_path=/nonexistent/x.ckpt"], "ckpt_path=/nonexistent/x.ckpt does not exist", 2, "error"),
    ("model-unknown", ["model=segformer_b99"], "Could not find 'model/segformer_b99'", 1, "hydra"),
    ("dataset-unknown", ["dataset=nowhere"], "Could not find 'dataset/nowhere'", 1, "hydra"),
]


def _module_state(model: str) -> dict:
    from prove_lightning.config import compose
    from prove_lightning.tasks.parts import build_module
    from prove_lightning.tasks.spec import build_run_spec

    cfg = compose("train", [f"model={model}", "trainer=cpu"])
    cfg.pop("hydra")
    torch.manual_seed(0)
    return build_module(build_run_spec(cfg).config).state_dict()


@pytest.fixture(scope="module")
def bad_ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ckpts")
    own = {"state_dict": _module_state("segformer_b0"), "prove": {"model": "segformer_b0"}, "global_step": 0}
    torch.save(own, d / "own.ckpt")
    data = (d / "own.ckpt").read_bytes()
    (d / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    (d / "random.ckpt").write_bytes(bytes(range(256)) * 64)
    (d / "empty.ckpt").write_bytes(b"")
    (d / "text.ckpt").write_text("not a checkpoint\n")
    torch.save({"foo": 1}, d / "nostate.ckpt")
    nan = {k: v.clone() for k, v in own["state_dict"].items()}
    next(v for v in nan.values() if v.is_floating_point()).fill_(float("nan"))
    torch.save({**own, "state_dict": nan}, d / "nan.ckpt")
    torch.save({"state_dict": _module_state("pspnet_tiny"), "prove": {"model": "pspnet_tiny"}, "global_step": 5}, d / "foreign.ckpt")
    torch.save({"state_dict": _module_state("pspnet_tiny"), "global_step": 5}, d / "foreign_unnamed.ckpt")
    return {p.stem: p for p in d.iterdir()}


CKPT_CASES: list[tuple[str, str, str]] = [
    ("ckpt-truncated", "truncated", "the checkpoint cannot be loaded"),
    ("ckpt-random-bytes", "random", "the checkpoint cannot be loaded"),
    ("ckpt-empty-file", "empty", "the checkpoint cannot be loaded"),
    ("ckpt-text-file", "text", "the checkpoint cannot be loaded"),
    ("ckpt-no-state-dict", "nostate", "is not a training checkpoint (no state_dict)"),
    ("ckpt-nan-weights", "nan", "holds non-finite weights"),
    ("ckpt-foreign-model", "foreign", "belongs to another model: expected segformer_b0"),
    ("ckpt-foreign-unnamed", "foreign_unnamed", "belongs to another model: expected segformer_b0"),
]

HEADER = "run_id,stage,strategy,augment,dataset,model,ratio,loss,seed,step,test_dataset,domain,n_images,aAcc,mIoU,mAcc,fwIoU,iou_road"
GOOD = ["s1/a,s1,baseline,none,toycity,segformer_b0,1.0,ce,42,100,toycity,all,3,90.0,50.0,60.0,80.0,97.5",
        "s1/a,s1,baseline,none,toycity,segformer_b0,1.0,ce,42,100,toycity,night,1,80.0,40.0,50.0,70.0,90.5"]
BAD_ROW = "s1/b,s1,baseline,none,toycity,segformer_b0,1.0,ce,42,200,toycity,all,3,90.0,50.0,60.0,80.0,97.5"


def _store(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


# (id, results.csv text, fragment, exit status, outcome)
STORE_CASES: list[tuple[str, str, str, int, str]] = [
    ("store-row-cut-in-metrics", _store(HEADER, [*GOOD, BAD_ROW[:-12]]), "results.csv:4: 16 fields where the header has 18", 0, "skipped-row"),
    ("store-row-cut-in-keys", _store(HEADER, [*GOOD, "s1/b,s1,basel"]), "results.csv:4: 3 fields where the header has 18", 0, "skipped-row"),
    ("store-row-extra-field", _store(HEADER, [*GOOD, BAD_ROW + ",9"]), "19 fields where the header has 18", 0, "skipped-row"),
    ("store-step-not-int", _store(HEADER, [*GOOD, BAD_ROW.replace(",200,", ",2x0,")]), "column 'step' is '2x0', not a number", 0, "skipped-row"),
    ("store-step-fraction", _store(HEADER, [*GOOD, BAD_ROW.replace(",200,", ",200.5,")]), "column 'step' is '200.5', not a whole number", 0, "skipped-row"),
    ("store-miou-text", _store(HEADER, [*GOOD, BAD_ROW.replace(",50.0,", ",fifty,")]), "column 'mIoU' is 'fifty', not a number", 0, "skipped-row"),
    ("store-empty-key", _store(HEADER, [*GOOD, BAD_ROW.replace("s1/b,", ",", 1)]), "empty key column 'run_id'", 0, "skipped-row"),
    ("store-duplicate-key", _store(HEADER, [*GOOD, GOOD[0]]), "repeats the key", 0, "skipped-row"),
    ("store-header-swapped", _store(HEADER.replace("mIoU,mAcc", "mAcc,mIoU"), GOOD), "header is not the writer's (column 15 is 'mAcc' where the writer puts 'mIoU'", 2, "error"),
    ("store-header-no-key", _store(HEADER.replace("domain,", "dom,"), GOOD), "header lacks key column(s) ['domain']", 2, "error"),
    ("store-header-repeated", _store(HEADER + ",mIoU", [g + ",1" for g in GOOD]), "header repeats column(s) ['mIoU']", 2, "error"),
    ("store-binary-garbage", "\x00\x01garbage,,\n\x02", "header column 2 has no name", 2, "error"),
    ("store-header-only-blank", "\n\n", "no header line", 2, "error"),
]


#: outcomes of the cases that ran in this session (printed by test_catalogue_size_and_outcomes)
OUTCOMES: Counter = Counter()


def _count(outcomes: Counter, outcome: str) -> None:
    outcomes[outcome] += 1


@pytest.fixture(scope="module")
def base_cfg(cache_root: Path):
    from prove_lightning.config import compose

    return compose("train", [*BASE, f"paths.cache_root={cache_root}"])


def _guard_in_process(base, overrides: list[str], out: Path) -> tuple[int, str]:
    """Apply overrides as Hydra parses them, then run the entry point's launch guard; (exit code, stderr)."""
    import contextlib
    import io

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from prove_lightning.tasks.launch_guard import LaunchGuard

    cfg = OmegaConf.create(OmegaConf.to_container(base))  # unresolved copy (the run_dir interpolation stays live)
    cfg.paths.output_root = str(out)
    for o in OverridesParser.create().parse_overrides(overrides):
        if o.key_or_group == "strategy":
            return _guard_cli_fallback(overrides, out)
        OmegaConf.update(cfg, o.key_or_group, o.value(), force_add=True)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            LaunchGuard().on_run_start(config=cfg)
        except SystemExit as e:
            return int(e.code or 0), err.getvalue()
    return 0, err.getvalue()


def _guard_cli_fallback(overrides: list[str], out: Path) -> tuple[int, str]:
    from prove_lightning.config import compose
    from prove_lightning.tasks.launch_guard import LaunchGuard
    import contextlib
    import io

    cfg = compose("train", [*BASE, f"paths.output_root={out}", *overrides])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            LaunchGuard().on_run_start(config=cfg)
        except SystemExit as e:
            return int(e.code or 0), err.getvalue()
    return 0, err.getvalue()


@pytest.mark.parametrize(("case", "overrides", "fragment", "code", "outcome"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_value(case: str, overrides: list[str], fragment: str, code: int, outcome: str, tmp_path: Path, cache_root: Path, base_cfg) -> None:
    out = tmp_path / "out"
    (out / "demo").mkdir(parents=True)
    (out / "demo" / "keep.txt").write_text("x")
    before = snapshot(out)
    if case in CLI_CASES:
        rc, err = run_train_cli([*BASE, f"paths.output_root={out}", f"paths.cache_root={cache_root}", *overrides])
    else:
        rc, err = _guard_in_process(base_cfg, overrides, out)
    assert rc == code, err[-2000:]
    assert fragment in err, err[-2000:]
    if outcome == "error":
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: ")
    assert changed(before, snapshot(out)) == []
    assert sorted(p.name for p in out.rglob("*")) == ["demo", "keep.txt"]  # not even a run directory was created
    _count(OUTCOMES, outcome)


@pytest.fixture(scope="module")
def own_module(cache_root: Path):
    from conftest import compose_train

    from prove_lightning.tasks.parts import build_module
    from prove_lightning.tasks.spec import build_run_spec

    return build_module(build_run_spec(compose_train([], Path("/nonexistent"), cache_root)).config)


@pytest.mark.parametrize(("case", "which", "fragment"), CKPT_CASES, ids=[c[0] for c in CKPT_CASES])
def test_bad_checkpoint_path(case: str, which: str, fragment: str, bad_ckpts: dict[str, Path], own_module, train_cfg, tmp_path: Path) -> None:
    from prove_lightning.cli_errors import find_prove_error
    from prove_lightning.tasks.spec import build_run_spec
    from prove_lightning.tasks.train_run import find_resume_checkpoint

    path = bad_ckpts[which]
    file_before = path.read_bytes()
    cfg = train_cfg(f"ckpt_path={path}")
    with pytest.raises(Exception) as info:  # the resume point of the training job (train._execute)
        find_resume_checkpoint(build_run_spec(cfg), None, own_module)
    err = find_prove_error(info.value)
    assert err is not None, info.value
    msg = str(err)
    assert msg.startswith(f"ckpt_path={path}: ") and fragment in msg and "\n" not in msg, msg
    if which.startswith("foreign"):
        assert "found pspnet_tiny" in msg or "found unnamed model" in msg
    assert path.read_bytes() == file_before  # a named checkpoint is never moved or changed
    _count(OUTCOMES, "error")


def test_foreign_checkpoint_through_the_entry_point_writes_nothing(bad_ckpts: dict[str, Path], tmp_path: Path, cache_root: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    rc, err = run_train_cli([*BASE, f"paths.output_root={out}", f"paths.cache_root={cache_root}", f"ckpt_path={bad_ckpts['foreign']}"])
    last = err.strip().splitlines()[-1]
    assert rc == 2 and "belongs to another model: expected segformer_b0" in last and "found pspnet_tiny" in last, err[-2000:]
    # checked before config.yaml, audit.json or a checkpoint is written; only the attempt's own logs are added
    # (logs/error.log with the traceback, logs/jobs.jsonl naming the attempt: issue 16's promise for any failure)
    assert [c for c in changed(before, snapshot(out)) if not c.startswith("new: ") or "/logs/" not in c] == []


@pytest.mark.parametrize(("case", "text", "fragment", "code", "outcome"), STORE_CASES, ids=[c[0] for c in STORE_CASES])
def test_bad_results_store(case: str, text: str, fragment: str, code: int, outcome: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "results.csv").write_text(text)
    before = snapshot(tmp_path)
    with caplog.at_level(logging.WARNING):
        rc, out, err = run_prove_cli(["results", "--output-root", str(tmp_path), "--rows", "--no-save"])
    assert rc == code, err
    said = err + caplog.text
    assert fragment in said, said
    assert "results.csv" in said and "Traceback" not in said
    if outcome == "skipped-row":
        assert "s1/a" in out  # the good rows are still read
        assert "results.csv:4" in caplog.text or "results.csv:3" in caplog.text or "results.csv:" in caplog.text
    else:
        assert "--rebuild" in err
    assert changed(before, snapshot(tmp_path)) == []  # a reader never writes
    _count(OUTCOMES, outcome)


def test_catalogue_size_and_outcomes(capsys: pytest.CaptureFixture) -> None:
    total = len(CONFIG_CASES) + len(CKPT_CASES) + len(STORE_CASES)
    assert total >= 40
    by = Counter(c[4] for c in CONFIG_CASES) + Counter("error" for _ in CKPT_CASES) + Counter(c[4] for c in STORE_CASES)
    with capsys.disabled():
        print(f"\nbad-input catalogue: {total} cases; by outcome {json.dumps(dict(by))}; passed in this session {json.dumps(dict(OUTCOMES))}")



def test_a_refused_launch_cannot_rewrite_hydra_files(base_cfg) -> None:
    # Hydra's .hydra/{config,hydra,overrides}.yaml went into the run dir on every launch, also a refused one
    # (run locked / done / failed); now Hydra writes none and the run writes overrides.yaml under its lock
    assert base_cfg.hydra.output_subdir is None
    assert "launch_guard" in base_cfg.hydra.callbacks
