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
