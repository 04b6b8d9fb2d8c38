"""One run identity (issue 10): one dataset key, one list of test sets, a RunSpec built once.

Regressions of the ways to get wrong numbers silently: a stratified dataset's pre-flight counting 0 generated
rows of a manifest training would load; `prove eval` testing a run on fewer test sets than training did (in
test_stages.py, on its trained run); a smoke run resuming into a study's run directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prove_lightning.commands.plan import main as plan_main
from prove_lightning.config import compose
from prove_lightning.errors import ConfigError


def _stratified_gen_plan(tmp_path: Path, dataset_column: str) -> dict:
    """`prove plan` of one gen_* run on bdd10k_stratified whose manifest names the dataset ``dataset_column``."""
    gen_root = tmp_path / "GENERATED_IMAGES"
    (gen_root / "automold").mkdir(parents=True)
    (gen_root / "automold" / "manifest.csv").write_text(
        "gen_path,original_path,label_path,dataset,domain,target_domain,method\n"
        f"g1.png,o1.png,l1.png,{dataset_column},foggy,fog,automold\n"
        f"g2.png,o2.png,l2.png,{dataset_column},night,night,automold\n"
        "g3.png,o3.png,l3.png,acdc,night,night,automold\n"
    )
    out_json = tmp_path / "plan.json"
    overrides = ["stage=s1", "dataset=bdd10k_stratified", "strategy=gen_automold", "model=segformer_b0",
                 f"paths.output_root={tmp_path / 'out'}", f"paths.generated_root={gen_root}"]
    assert plan_main([*overrides, "--json", str(out_json), "-j", "1"]) == 0
    return json.loads(out_json.read_text())


@pytest.mark.parametrize("dataset_column", ["BDD10k", "bdd10k"])
def test_stratified_dataset_preflight_counts_the_generated_rows_training_loads(tmp_path: Path, dataset_column: str) -> None:
    (run,) = _stratified_gen_plan(tmp_path, dataset_column)["runs"]
    assert run["status"] == "to_run" and "2 generated images" in run["detail"], run
    # the one dataset key: results and the run directory say bdd10k, the layout is a property of the config
    assert run["run_id"] == "s1/gen_automold/bdd10k/segformer_b0_ratio0p50"


def test_stratified_configs_name_the_dataset_and_keep_the_layout_apart() -> None:
    from prove_lightning.tasks.spec import build_run_spec

    for ds in ("acdc", "bdd10k", "cityscapes", "iddaw", "mapillary", "outside15k"):
        cfg = compose("train", [f"dataset={ds}_stratified", "paths.output_root=/o"])
        cfg.pop("hydra")
        spec = build_run_spec(cfg)
        assert (spec.dataset, cfg.dataset.layout, spec.test_set_names[0], spec.row_identity["dataset"]) == (ds, "stratified", ds, ds)


def test_dataset_and_source_naming_two_datasets_is_an_error() -> None:
    from prove_lightning.tasks.spec import build_run_spec

    cfg = compose("train", ["dataset=bdd10k_stratified", "dataset.name=bdd10k_strat"])
    cfg.pop("hydra")
    with pytest.raises(ConfigError, match="one dataset key"):
        build_run_spec(cfg)


def test_a_cg_run_rebuilt_from_its_config_yaml_tests_on_cityscapes_and_acdc(tmp_path: Path) -> None:
    """What `prove eval run_dir=<cg run>` tests on: the RunSpec of the saved config, i.e. the stage's list."""
    from omegaconf import OmegaConf

    from prove_lightning.tasks.eval_run import load_run_spec
    from prove_lightning.tasks.spec import build_run_spec

    cfg = compose("train", ["stage=cg", "dataset=cityscapes", f"paths.output_root={tmp_path}"])
    cfg.pop("hydra")
    spec = build_run_spec(cfg)
    spec.run_dir.path.mkdir(parents=True)
    spec.run_dir.config_yaml.write_text(OmegaConf.to_yaml(OmegaConf.create(dict(spec.config))))
    again = load_run_spec(spec.run_dir.path)
    assert spec.test_set_names == again.test_set_names == ["cityscapes", "acdc"]
    assert again.identity == spec.identity and again.run_id == spec.run_id


# ------------------------------------------------------------------------------------------- identity guard
def _spec(tmp_path: Path, *overrides: str, run_dir: Path | None = None):
    from prove_lightning.tasks.spec import build_run_spec

    cfg = compose("train", ["stage=demo", "model=segformer_b0", "trainer=cpu", f"paths.output_root={tmp_path}", *overrides])
    cfg.pop("hydra")
    return build_run_spec(cfg, run_dir=run_dir)


@pytest.fixture
def recorded(tmp_path: Path):
    """A run directory as a (partly) trained run leaves it: config.yaml, identity.json, last.ckpt."""
    from prove_lightning.tasks.train_run import save_run_files

    spec = _spec(tmp_path)
    save_run_files(spec)
    spec.run_dir.checkpoints.mkdir(parents=True)
    spec.run_dir.last_ckpt.write_bytes(b"x")
    return spec


def _check(spec):
    from prove_lightning.runs.preflight import check_run
    from prove_lightning.tasks.store import results_index

    return check_run(spec, results_index(spec.output_root), check_lock=False)


IDENTITY_CHANGES = {
    "stage": "stage=s1", "strategy": "strategy=std_cutmix", "augment": "augment=cutmix", "dataset": "dataset=cityscapes",
    "model": "model=segformer_b3", "ratio": "+strategy.ratio=0.5", "loss": "loss=lovasz", "seed": "seed=7",
    "run_suffix": "stage.run_suffix=_x", "max_steps": "trainer.max_steps=20",
}


def test_every_identity_field_is_listed_here() -> None:
    from prove_lightning.runs.spec import IDENTITY_FIELDS

    assert set(IDENTITY_CHANGES) == set(IDENTITY_FIELDS)


@pytest.mark.parametrize("field", sorted(IDENTITY_CHANGES))
def test_a_job_of_another_identity_in_a_recorded_run_dir_is_stopped(recorded, tmp_path: Path, field: str) -> None:
    from prove_lightning.tasks.train_run import run_training

    other = _spec(tmp_path, IDENTITY_CHANGES[field], run_dir=recorded.run_dir.path)
    assert getattr(other, field) != getattr(recorded, field)
    check = _check(other)
    assert check.status == "conflict" and f"{field}: " in check.detail, check.detail
    with pytest.raises(ConfigError, match=f"{field}: .*allow_config_change=true"):
        run_training(other)


@pytest.mark.parametrize("override, key", [
    ("model.lr=0.5", "model.lr"), ("data.batch_size=2", "data.batch_size"), ("model.scheduler.power=2.0", "model.scheduler.power"),
    ("dataset.train_pipeline.flip_prob=0.0", "dataset.train_pipeline.flip_prob"), ("augment=cutmix", "augment.name"),
])
def test_a_changed_training_setting_is_stopped_and_config_yaml_kept(recorded, tmp_path: Path, override: str, key: str) -> None:
    before = recorded.run_dir.config_yaml.read_text()
    check = _check(_spec(tmp_path, override, run_dir=recorded.run_dir.path))
    assert check.status == "conflict" and f"{key}: " in check.detail, check.detail
    assert recorded.run_dir.config_yaml.read_text() == before


def test_same_run_again_and_settings_that_do_not_train_pass_the_guard(recorded, tmp_path: Path) -> None:
    for extra in ((), ("data.num_workers=0", "trainer.enable_progress_bar=false", "paths.data_root=/elsewhere", "test_after_training=false")):
        check = _check(_spec(tmp_path, *extra))
        assert check.status == "to_run" and "partly trained" in check.detail, check.detail


def test_allow_config_change_continues_and_records_the_change(recorded, tmp_path: Path) -> None:
    import json

    from prove_lightning.runs.identity import config_hash
    from prove_lightning.tasks.train_run import save_run_files

    changed = _spec(tmp_path, "model.lr=0.5", "allow_config_change=true")
    assert _check(changed).status == "to_run"
    save_run_files(changed)  # what the job does before it resumes
    (entry,) = [json.loads(line) for line in changed.run_dir.history.read_text().splitlines()]
    assert entry["event"] == "config_change" and ["model.lr", recorded.config["model"]["lr"], 0.5] in entry["changes"]
    assert json.loads(changed.run_dir.identity_json.read_text())["config_hash"] == config_hash(changed.config) != config_hash(recorded.config)
    assert _check(_spec(tmp_path, "model.lr=0.5")).status == "to_run"  # the recorded settings are now the new ones


def test_a_smoke_run_never_becomes_the_start_of_the_real_run(tmp_path: Path) -> None:
    """`trainer.max_steps=20` once, then `prove plan`: the real run is not "partly trained"; debug= goes elsewhere."""
    from prove_lightning.tasks.plan import plan_sweep
    from prove_lightning.tasks.train_run import save_run_files

    smoke = _spec(tmp_path, "trainer.max_steps=20")
    save_run_files(smoke)
    smoke.run_dir.checkpoints.mkdir(parents=True)
    smoke.run_dir.last_ckpt.write_bytes(b"x")
    (real,) = plan_sweep(["stage=demo", "model=segformer_b0", f"paths.output_root={tmp_path}"])
    assert real.status == "conflict" and "max_steps: 20 -> 150" in real.check.detail, real.check.detail
    debug = _spec(tmp_path, "debug=fast", "model=segformer_b3")
    assert debug.run_dir.path == tmp_path / "debug" / "fast" / "demo" / "baseline" / "toycity" / "segformer_b3"
    assert debug.output_root == tmp_path / "debug" / "fast" and debug.max_steps == 4  # its results.csv is its own
    (other,) = plan_sweep(["stage=demo", "model=segformer_b3", f"paths.output_root={tmp_path}"])
    assert other.status == "to_run" and other.check.detail.startswith("not started")


@pytest.mark.parametrize("mode", ["fast", "overfit", "limit", "profile"])
def test_debug_modes_compose_under_the_debug_root(tmp_path: Path, mode: str) -> None:
    spec = _spec(tmp_path, f"debug={mode}")
    assert spec.run_dir.path.is_relative_to(tmp_path / "debug" / mode) and spec.max_steps < 15000


# ------------------------------------------------------------------------------------------------ tidy conf
def test_strategy_and_loss_groups_offer_only_real_options_in_one_packaging_style() -> None:
    from prove_lightning.config import CONF_DIR

    for group in ("strategy", "loss"):
        entries = sorted((CONF_DIR / group).iterdir())
        assert all(p.suffix == ".yaml" for p in entries), f"conf/{group}/ holds a non-option: {[p.name for p in entries if p.suffix != '.yaml']}"
    assert not [p.name for p in (CONF_DIR / "strategy").glob("*.yaml") if "@package" in p.read_text()]
    for bad in ("strategy=base/gen", "loss=term/ce"):
        with pytest.raises(Exception, match="Could not find|not found"):
            compose("train", [bad])
    cfg = compose("train", ["strategy=std_cutmix"])
    assert (cfg.strategy.name, cfg.augment.name, cfg.run_relpath) == ("std_cutmix", "cutmix", "s1/std_cutmix/toycity/segformer_b3")


def test_the_experiment_example_composes() -> None:
    cfg = compose("train", ["experiment=demo_cpu", "paths.output_root=/o"])
    assert (cfg.stage.name, cfg.model.name, cfg.trainer.accelerator) == ("demo", "segformer_b0", "cpu")
