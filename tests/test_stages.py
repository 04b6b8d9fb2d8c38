"""Stages: every one composes with the catalogue's facts; test sets drive the auto-test; extended training
redefines the LR schedule over the new horizon; evaluation-only stages; pre-flight decisions of a job."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytorch_lightning as pl
from omegaconf import OmegaConf

from prove_lightning.config import CONF_DIR, compose
from prove_lightning.data.domains import ADVERSE_DOMAINS, DOMAINS
from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.results import read_results
from prove_lightning.optim import scaled_lr, warmup_poly_factor
from prove_lightning.tasks.spec import build_run_spec
from prove_lightning.train import run_training
from test_sweeps import searchpath  # noqa: F401 - fixture: stand-ins for options other branches define

STAGES = sorted(p.stem for p in (CONF_DIR / "stage").glob("*.yaml"))
STAGE_KEYS = {
    "name", "train_domains", "val_domains", "max_steps", "val_check_interval", "checkpoint_interval",
    "test_train_dataset", "test_sets", "run_suffix", "extend_from", "extend_lr", "evaluate_from", "test_checkpoints",
}
ALL = list(DOMAINS)

# the catalogue (studies.md): train domains, iterations, checkpoint/eval interval, extra test sets, source stage
CATALOGUE = {
    "s1": (["clear_day"], 15000, 2000, [], None),
    "s2": (ALL, 15000, 2000, [], None),
    "cg": (ALL, 20000, 2000, ["acdc"], None),
    "cityscapes": (ALL, 160000, 16000, [], None),
    "cs_ratio": (ALL, 20000, 2000, ["acdc"], None),
    "s1_ratio": (["clear_day"], 15000, 2000, [], None),
    "noise": (["clear_day"], 15000, 2000, [], None),
    "extended_s1": (["clear_day"], 45000, 5000, [], "s1"),
    "extended_cg": (ALL, 60000, 5000, ["acdc"], "cg"),
    "combination": (ALL, 20000, 2000, ["acdc"], None),
    "from_scratch": (["clear_day"], 40000, 5000, [], None),
    "loss_ablation": (["clear_day"], 15000, 2000, [], None),
    "batch_size": (["clear_day"], 15000, 2000, [], None),
    "cross_dataset": (["clear_day"], 15000, 2000, ["bdd10k", "iddaw"], "s1"),  # grids.md: bdd10k <-> iddaw
    "curriculum": (["clear_day"], 15000, 2000, [], None),
    "domain_targeted": (["clear_day"], 15000, 2000, [], None),
    "demo": (["clear_day"], 150, 75, [], None),
}


def _compose(*overrides: str, searchpath: str, tmp_path: Path):
    cfg = compose("train", [*overrides, f"paths.output_root={tmp_path}", searchpath])
    cfg.pop("hydra")
    return cfg


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_composes_resolves_and_says_everything(stage: str, searchpath: str, tmp_path: Path) -> None:
    cfg = _compose(f"stage={stage}", searchpath=searchpath, tmp_path=tmp_path)
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert STAGE_KEYS <= set(cfg.stage), f"stage {stage} lacks {sorted(STAGE_KEYS - set(cfg.stage))}"
    assert cfg.run_dir.startswith(f"{tmp_path}/{cfg.stage.name}/")
    assert cfg.trainer.max_steps == cfg.stage.max_steps and cfg.callbacks.checkpoint.every_n_train_steps == cfg.stage.checkpoint_interval
    assert build_run_spec(cfg).test_set_names


def test_every_stage_of_the_catalogue_has_its_facts(searchpath: str, tmp_path: Path) -> None:
    assert set(CATALOGUE) == set(STAGES)
    for stage, (domains, steps, interval, extra_tests, source) in CATALOGUE.items():
        cfg = _compose(f"stage={stage}", searchpath=searchpath, tmp_path=tmp_path)
        s = cfg.stage
        train = ALL if s.train_domains == "all" else list(s.train_domains)
        assert (train, s.max_steps, s.checkpoint_interval, s.val_check_interval) == (domains, steps, interval, interval), stage
        assert sorted(s.test_sets) == sorted(extra_tests), stage
        assert (s.extend_from or s.evaluate_from) == source, stage
    assert _compose("stage=cross_dataset", searchpath=searchpath, tmp_path=tmp_path).stage.evaluate_from == "s1"
    assert _compose("stage=extended_s1", searchpath=searchpath, tmp_path=tmp_path).stage.extend_from == "s1"


def test_cityscapes_stages_test_on_acdc_per_condition(searchpath: str, tmp_path: Path) -> None:
    cfg = _compose("stage=cg", "dataset=cityscapes", searchpath=searchpath, tmp_path=tmp_path)
    assert build_run_spec(cfg).test_set_names == ["cityscapes", "acdc"]
    assert set(ADVERSE_DOMAINS) == {"foggy", "night", "rainy", "snowy"}  # ACDC rows are written per domain


def test_from_scratch_turns_pretrained_weights_off_for_any_model(searchpath: str, tmp_path: Path) -> None:
    assert _compose("model=segformer_b3", searchpath=searchpath, tmp_path=tmp_path).model.pretrained is True
    for model in ("segformer_b3", "pspnet_r50"):
        cfg = _compose("stage=from_scratch", f"model={model}", searchpath=searchpath, tmp_path=tmp_path)
        assert cfg.model.pretrained is False and cfg.model.net.pretrained is False
    # a stage override still yields to the command line
    assert _compose("stage=from_scratch", "model.pretrained=true", searchpath=searchpath, tmp_path=tmp_path).model.pretrained is True


def test_batch_size_stage_scales_lr_by_the_models_rule_and_names_runs_by_batch(searchpath: str, tmp_path: Path) -> None:
    lrs, dirs = {}, set()
    for bs in (2, 16):
        cfg = _compose("stage=batch_size", "model=segformer_b3", f"model.batch_size={bs}", searchpath=searchpath, tmp_path=tmp_path)
        assert cfg.data.batch_size == bs and cfg.model.lr_scaling == "linear"
        lrs[bs] = scaled_lr(cfg.model.lr, cfg.data.batch_size, cfg.model.reference_batch_size, cfg.model.lr_scaling)
        dirs.add(cfg.run_dir)
        assert cfg.run_dir.endswith(f"segformer_b3_bs{bs}")
    assert lrs[16] == pytest.approx(8 * lrs[2]) and len(dirs) == 2


def test_curriculum_and_domain_targeted_stages_set_the_strategy(searchpath: str, tmp_path: Path) -> None:
    cfg = _compose("stage=curriculum", "strategy=gen_automold", "stage.curriculum=ramp", searchpath=searchpath, tmp_path=tmp_path)
    assert dict(cfg.strategy.schedule) == {"kind": "linear", "start": 1.0} and cfg.run_dir.endswith("_ramp")
    cfg = _compose("stage=curriculum", "strategy=gen_automold", searchpath=searchpath, tmp_path=tmp_path)
    assert dict(cfg.strategy.schedule) == {"kind": "first", "until": 0.5} and cfg.run_dir.endswith("_first_half")
    cfg = _compose("stage=domain_targeted", "strategy=gen_automold", "stage.target_domain=night", searchpath=searchpath, tmp_path=tmp_path)
    assert list(cfg.strategy.domains) == ["night"] and cfg.run_dir.endswith("_to_night")


# ------------------------------------------------------------------------------------------------- training
class LrAt(pl.Callback):
    """Records the LR multiplier (lr / initial_lr of the first param group) the optimizer uses at each step."""

    def __init__(self) -> None:
        self.factor: dict[int, float] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        group = trainer.optimizers[0].param_groups[0]
        self.factor[trainer.global_step] = group["lr"] / group["initial_lr"]


SCHED = ["model.scheduler.warmup_steps=2", "model.scheduler.min_lr=0.0", "trainer.max_steps=4", "trainer.val_check_interval=4"]


def _toycopy(cache_root: Path) -> list[str]:
    """A second test set: the small ToyCity's files read through the stratified adapter under another name."""
    from prove_lightning.data.sources.toycity import ToyCitySource
    from prove_lightning.data.toycity import DATASET_DIR

    root = ToyCitySource(root=cache_root / "toycity", seed=0, height=64, width=128, n_train=16, n_test=4).root
    return [
        "+dataset@stage.test_sets.toycopy=stratified",
        "stage.test_sets.toycopy.name=toycopy",
        f"stage.test_sets.toycopy.source.root={root}",
        f"stage.test_sets.toycopy.source.dataset_dir={DATASET_DIR}",
    ]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, cache_root: Path):
    """A finished 4-step demo run, tested on its own test split and on a second test set named by the stage."""
    from conftest import compose_train
    from slurm.runner import ensure_small_toycity

    ensure_small_toycity(cache_root)
    out = tmp_path_factory.mktemp("stages")
    lr = LrAt()
    cfg = compose_train([*SCHED, *_toycopy(cache_root)], out, cache_root)
    result = run_training(cfg, extra_callbacks=[lr])
    return cfg, result, lr, out


@pytest.mark.slow
def test_stage_test_sets_drive_the_auto_test(source) -> None:
    cfg, result, _, out = source
    assert result["status"] == "done"
    store = read_results(out)
    run = store[store.run_id == "demo/baseline/toycity/segformer_b0"]
    assert sorted(run.test_dataset.unique()) == ["toycity", "toycopy"] and set(run.step) == {4}
    assert len(run) == 2 * (len(DOMAINS) + 1)
    a = run[run.test_dataset == "toycity"].set_index("domain").mIoU.sort_index()
    b = run[run.test_dataset == "toycopy"].set_index("domain").mIoU.sort_index()
    assert a.equals(b)  # the same images under two names give the same numbers
    recorded = OmegaConf.load(Path(result["run_dir"]) / "config.yaml")
    assert [s.get("name", "toycity") for s in recorded.data.test_sources] == ["toycity", "toycopy"]


@pytest.mark.slow
def test_eval_of_a_run_without_test_datasets_tests_the_stages_test_sets(source) -> None:
    """`prove eval run_dir=<run>` tests on the stage's test sets as training did (a cg run: Cityscapes + ACDC),
    with the same numbers, not on the run's own dataset only."""
    from prove_lightning.eval import run_eval

    _, result, _, out = source
    trained = read_results(out)
    trained = trained[trained.run_id == "demo/baseline/toycity/segformer_b0"].set_index(["test_dataset", "domain"]).mIoU.sort_index()
    rows = run_eval(OmegaConf.create({"run_dir": str(result["run_dir"]), "ckpt_path": None, "ckpt": "final", "progress": False, "num_workers": 0}))
    assert sorted({r["test_dataset"] for r in rows}) == ["toycity", "toycopy"]
    again = {(r["test_dataset"], r["domain"]): r["mIoU"] for r in rows}
    assert {k: round(v, 6) for k, v in again.items()} == {k: round(v, 6) for k, v in trained.items()}


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["recompute", "restart"])
def test_extended_training_redefines_the_lr_schedule_over_the_new_horizon(source, rule: str, cache_root: Path) -> None:
    from conftest import compose_train

    cfg0, result0, lr0, out = source
    src_dir = Path(result0["run_dir"])
    before = sorted(p.name for p in (src_dir / "checkpoints").iterdir())
    assert lr0.factor[3] == pytest.approx(warmup_poly_factor(3, 4, 2, 1e-3, 1.0, 0.0))  # the source decays to 0 at step 4
    lr = LrAt()
    stage = f"extended_{rule}"
    cfg = compose_train(["stage=extended_s1", f"stage.name={stage}", "stage.extend_from=demo", f"stage.extend_lr={rule}", *SCHED, "trainer.max_steps=6", "trainer.val_check_interval=6"], out, cache_root)
    result = run_training(cfg, extra_callbacks=[lr])
    run_dir = Path(result["run_dir"])
    assert run_dir == out / stage / "baseline/toycity/segformer_b0"
    assert sorted(lr.factor) == [4, 5]  # continued from the source's step 4, not from 0
    if rule == "recompute":  # the model's warmup+poly evaluated for max_steps=6: 0.5 at step 4
        expected = {s: warmup_poly_factor(s, 6, 2, 1e-3, 1.0, 0.0) for s in (4, 5)}
    else:  # warmup-free poly from the base LR at step 4 to 0 at step 5, the last step (MMEngine's PolyLR end rule)
        expected = {4: 1.0, 5: 0.0}
    assert lr.factor == pytest.approx(expected)
    assert lr.factor[4] > 0.3, "the extension must not run at the old schedule's floor (0 here)"  # recompute: 1 - 2/3 (MMEngine rule)
    assert (run_dir / "checkpoints/step_6.ckpt").is_file()
    assert sorted(p.name for p in (src_dir / "checkpoints").iterdir()) == before  # the source run is untouched
    audit = __import__("json").loads((run_dir / "audit.json").read_text())
    assert audit["extension"]["from_step"] == 4 and audit["extension"]["lr_rule"] == rule
    store = read_results(out)
    # extended stages test every checkpoint (stage.test_checkpoints: all), the start one from the source's file
    assert set(store[store.run_id == f"{stage}/baseline/toycity/segformer_b0"].step) == {4, 6}


@pytest.mark.slow
def test_extended_stage_without_its_source_run_is_an_error_alone_and_a_skip_in_a_sweep(tmp_path: Path, cache_root: Path) -> None:
    from conftest import compose_train

    cfg = compose_train(["stage=extended_s1", "stage.extend_from=demo", "trainer.max_steps=10"], tmp_path, cache_root)
    with pytest.raises(ConfigError, match="source run"):
        run_training(cfg)
    cfg = compose_train(["stage=extended_s1", "stage.extend_from=demo", "trainer.max_steps=10"], tmp_path, cache_root)
    assert run_training(cfg, in_sweep=True)["status"] == "no_source"


@pytest.mark.slow
def test_cross_dataset_stage_tests_the_source_checkpoint_without_training(source, cache_root: Path) -> None:
    from conftest import compose_train

    _, result0, _, out = source
    drop = [f"~dataset@stage.test_sets.{d}" for d in ("bdd10k", "iddaw")]
    cfg = compose_train(["stage=cross_dataset", "stage.evaluate_from=demo", "stage.test_train_dataset=true", *drop, *_toycopy(cache_root)], out, cache_root)
    result = run_training(cfg)
    run_dir = Path(result["run_dir"])
    assert run_dir == out / "cross_dataset/baseline/toycity/segformer_b0"
    assert not (run_dir / "checkpoints").exists()  # nothing trained
    rows = result["test_rows"]
    assert {r["test_dataset"] for r in rows} == {"toycity", "toycopy"} and {r["step"] for r in rows} == {4}
    assert {r["stage"] for r in rows} == {"cross_dataset"}
    src = {(r["test_dataset"], r["domain"]): r["mIoU"] for r in result0["test_rows"]}
    assert {(r["test_dataset"], r["domain"]): r["mIoU"] for r in rows} == pytest.approx(src, nan_ok=True)
    assert run_training(cfg)["status"] == "done"  # launched again: nothing to do


@pytest.mark.slow
def test_preflight_skips_done_runs_and_only_tests_untested_ones(source, tmp_path: Path, cache_root: Path) -> None:
    from conftest import compose_train

    cfg0, result0, _, out = source
    ckpt = Path(result0["final_ckpt"])
    mtime = ckpt.stat().st_mtime_ns
    again = run_training(compose_train([*SCHED, *_toycopy(cache_root)], out, cache_root))
    assert again["status"] == "done" and again["test_rows"] == [] and ckpt.stat().st_mtime_ns == mtime
    # the same run copied to a fresh output root has its final checkpoint but no results there: test only
    copy_root = tmp_path / "copy"
    shutil.copytree(Path(result0["run_dir"]), copy_root / "demo/baseline/toycity/segformer_b0")
    audit = copy_root / "demo/baseline/toycity/segformer_b0/audit.json"
    audit_text = audit.read_text()
    tested = run_training(compose_train([*SCHED, *_toycopy(cache_root)], copy_root, cache_root))
    assert audit.read_text() == audit_text  # the training run's record of its data pipeline is kept
    copied = copy_root / "demo/baseline/toycity/segformer_b0/checkpoints"
    assert tested["status"] == "done" and len(tested["test_rows"]) == 2 * (len(DOMAINS) + 1)
    assert sorted(p.name for p in copied.iterdir()) == sorted(p.name for p in ckpt.parent.iterdir())  # no training


def test_gen_strategy_without_generated_images_errors_alone_and_is_skipped_in_a_sweep(tmp_path: Path, cache_root: Path) -> None:
    from conftest import compose_train

    conf = tmp_path / "conf" / "strategy"
    conf.mkdir(parents=True)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("gen_path,original_path,label_path,dataset,domain,target_domain,method\nx.png,y.png,z.png,bdd10k,foggy,fog,m\n")
    (conf / "gen_testonly.yaml").write_text(f"name: gen_testonly\nratio: 0.5\nmanifest: {manifest}\n")
    overrides = ["strategy=gen_testonly", f"hydra.searchpath=[file://{tmp_path / 'conf'}]"]
    with pytest.raises(ConfigError, match="no generated images") as err:
        run_training(compose_train(overrides, tmp_path / "out", cache_root))
    assert str(manifest) in str(err.value) and "toycity" in str(err.value)
    result = run_training(compose_train(overrides, tmp_path / "out", cache_root), in_sweep=True)
    assert result["status"] == "no_generated" and not Path(result["run_dir"]).exists()
