"""Every study's sweep expands, from config alone, to the grid the team ran (shared reference grids.md).

grids.md is restated below as its own name lists and totals (STD4, GEN21, ALL26, M4/M5/M6, D4 and each study's
total), so these tests compare two independent statements of a study: the sweep files, expanded exactly as
``train -m`` / ``prove plan`` expand them, and the team's run log.

Sweep files name datasets, models, strategies, losses and augmentations that other parts of the project
define. `test_every_referenced_option_exists` checks each name has its conf/ file. The structural tests
below also run where some are still missing (a branch built before the others were merged): for those,
and only those, they put minimal stand-in option files on Hydra's search path; conf/ always wins.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from prove_lightning.config import CONF_DIR
from prove_lightning.tasks.plan import expand_sweep

GROUPS = ("stage", "dataset", "model", "strategy", "augment", "loss")

# ---- grids.md, restated (independent of conf/) ------------------------------------------------------------
STD4 = {"std_autoaugment", "std_cutmix", "std_mixup", "std_randaugment"}
GEN21 = {
    "gen_albumentations_weather", "gen_Attribute_Hallucination", "gen_augmenters", "gen_automold", "gen_CNetSeg",
    "gen_CUT", "gen_cyclediffusion", "gen_cycleGAN", "gen_flux_kontext", "gen_Img2Img", "gen_IP2P", "gen_LANIT",
    "gen_Qwen_Image_Edit", "gen_stargan_v2", "gen_step1x_new", "gen_step1x_v1p2", "gen_SUSTechGAN", "gen_TSIT",
    "gen_UniControl", "gen_VisualCloze", "gen_Weather_Effect_Generator",
}  # fmt: skip
ALL26 = {"baseline"} | STD4 | GEN21
NEWER = {"gen_AOD_Net", "gen_EDICT", "gen_flux2", "gen_NST", "gen_StyleID", "gen_tunit", "gen_physics_weather"}
M4 = {"pspnet_r50", "segformer_b3", "segnext_b", "mask2former_swin_b"}
M5 = M4 | {"deeplabv3plus_r50"}
M6 = M5 | {"hrnet_w48"}
D4 = {"bdd10k_stratified", "iddaw_stratified", "mapillary_stratified", "outside15k_stratified"}  # the layout the team used

# each study's total (grids.md "total" column); the sets below pin what the total is made of
EXPECTED = {
    "s1": 416,
    "s2": 416,
    "cg": 130,
    "cityscapes": 5,  # not in grids.md: baseline x M5 (studies.md, Cityscapes verification)
    "cs_ratio": 48,
    "s1_ratio": 24,
    "noise": 48,  # grids.md: 48 + 5 = 53 (the Stage-1 arm ...
    "noise_cg": 5,  # ... and the Cityscapes arm)
    "extended_s1": 20,
    "extended_cg": 10,
    "combination": 18,
    "from_scratch": 104,
    "from_scratch_ratio0": 60,
    "loss_ablation": 48,  # "choose the cells": our choice, written in conf/stage/loss_ablation.yaml
    "batch_size": 16,  # "setup only in the log": our choice, written in conf/stage/batch_size.yaml
    "cross_dataset": 8,
    "curriculum": 3,
    "domain_targeted": 6,  # grids.md: 6-7
}
GRIDS = {  # sweep -> {override key: the values grids.md names}
    "s1": {"strategy": ALL26, "model": M4, "dataset": D4},
    "s2": {"strategy": ALL26, "model": M4, "dataset": D4},
    "cg": {"strategy": ALL26, "model": M5},
    "cs_ratio": {"strategy": {"gen_VisualCloze", "gen_step1x_v1p2", "gen_flux_kontext", "gen_TSIT"}, "model": M4, "strategy.ratio": {"0.0", "0.25", "0.75"}},
    "s1_ratio": {"strategy": {"gen_VisualCloze", "gen_TSIT"}, "model": {"pspnet_r50", "segformer_b3"}, "dataset": {"bdd10k_stratified", "iddaw_stratified"}},
    "noise": {"model": M6, "dataset": D4, "strategy.ratio": {"0.5", "0.0"}},
    "noise_cg": {"model": M5, "strategy.ratio": {"0.0"}},
    "extended_s1": {"strategy": {"baseline", "gen_Img2Img", "gen_augmenters", "gen_cycleGAN", "std_randaugment"}, "model": {"pspnet_r50", "segformer_b3"}, "dataset": {"bdd10k_stratified", "iddaw_stratified"}},
    "extended_cg": {"strategy": {"baseline", "gen_augmenters", "gen_Img2Img", "gen_CUT", "std_randaugment"}, "model": {"pspnet_r50", "segformer_b3"}},
    "combination": {"strategy": {"gen_Qwen_Image_Edit", "gen_Img2Img", "gen_augmenters"}, "augment": {"cutmix", "autoaugment", "mixup"}},
    "from_scratch": {"strategy": ALL26, "dataset": D4},
    "from_scratch_ratio0": {"strategy": GEN21 - {"gen_LANIT"}, "dataset": D4 - {"iddaw_stratified"}},
    "cross_dataset": {"strategy": {"baseline", "gen_automold", "gen_UniControl", "gen_albumentations_weather"}, "dataset": {"bdd10k_stratified", "iddaw_stratified"}},
}
STUDY_SWEEPS = sorted(EXPECTED)


def _files(group: str) -> list[Path]:
    return sorted((CONF_DIR / group).glob("*.yaml"))


def referenced_options() -> dict[tuple[str, str], set[str]]:
    """(group, option) -> files naming it, from the defaults lists and sweeper params of stage/ and sweep/."""
    refs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in [*_files("stage"), *_files("sweep")]:
        data = yaml.safe_load(f.read_text()) or {}
        where = f"{f.parent.name}/{f.name}"
        for entry in data.get("defaults") or []:
            if isinstance(entry, dict):
                for key, value in entry.items():
                    key = key.replace("override", "").strip().lstrip("/")
                    group = key.split("@")[0]
                    if group in GROUPS and isinstance(value, str):
                        refs[(group, value)].add(where)
        params = ((data.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
        for key, value in params.items():
            if key in GROUPS and not str(value).lstrip().startswith(("${", "glob(")):  # a rule, not a list
                for option in str(value).split(","):
                    refs[(key, option.strip())].add(where)
    return refs


def missing_options() -> dict[tuple[str, str], set[str]]:
    return {k: v for k, v in referenced_options().items() if not (CONF_DIR / k[0] / f"{k[1]}.yaml").is_file()}


def _stand_in(group: str, option: str) -> str:
    if group == "dataset":
        return f"defaults:\n  - toycity\n  - _self_\nname: {option}\n"
    if group == "model":
        return f"defaults:\n  - segformer_b0\n  - _self_\nname: {option}\n"
    if group == "loss":
        return f"defaults:\n  - ce\n  - _self_\nname: {option}\n"
    if group == "strategy" and option.startswith("gen_"):
        return f"name: {option}\nratio: 0.5\nmanifest: ${{paths.cache_root}}/stand_in/{option}/manifest.csv\n"
    return f"name: {option}\n"


def write_stand_ins(root: Path) -> list[tuple[str, str]]:
    missing = sorted(missing_options())
    for group, option in missing:
        path = root / group / f"{option}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_stand_in(group, option))
    return missing


@pytest.fixture(scope="session")
def searchpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Hydra override adding stand-ins for options other branches define (none once everything is merged)."""
    root = tmp_path_factory.mktemp("stand_in_conf")
    write_stand_ins(root)
    return f"hydra.searchpath=[file://{root}]"


# ---------------------------------------------------------------------------------------------------------
def test_every_referenced_option_exists() -> None:
    missing = missing_options()
    assert not missing, "sweep/stage files name options with no conf/ file:\n" + "\n".join(
        f"  {g}={o}  (in {', '.join(sorted(files))})" for (g, o), files in sorted(missing.items())
    )


def test_every_study_has_a_sweep_and_a_stage() -> None:
    sweeps = {p.stem for p in _files("sweep")}
    assert set(STUDY_SWEEPS) <= sweeps, f"missing sweep files: {sorted(set(STUDY_SWEEPS) - sweeps)}"
    stages = {p.stem for p in _files("stage")}
    wanted = {
        "s1", "s2", "cg", "cityscapes", "cs_ratio", "s1_ratio", "noise", "extended_s1", "extended_cg", "combination",
        "from_scratch", "loss_ablation", "batch_size", "cross_dataset", "curriculum", "domain_targeted", "demo",
    }
    assert wanted <= stages, f"missing stage files: {sorted(wanted - stages)}"


@pytest.mark.parametrize("sweep", STUDY_SWEEPS)
def test_sweep_expands_to_the_catalogue_count(sweep: str, searchpath: str) -> None:
    jobs = expand_sweep([f"sweep={sweep}", searchpath])
    assert len(jobs) == EXPECTED[sweep], f"sweep={sweep}: {len(jobs)} runs, grids.md gives {EXPECTED[sweep]}"
    assert len({tuple(sorted(j)) for j in jobs}) == len(jobs)
    assert all(f"sweep={sweep}" in j for j in jobs)


def test_command_line_narrows_a_sweep_as_hydra_does(searchpath: str) -> None:
    jobs = expand_sweep(["sweep=s1", "dataset=bdd10k_stratified", "model=pspnet_r50,segformer_b3", searchpath])
    assert len(jobs) == len(ALL26) * 2
    assert all("dataset=bdd10k_stratified" in j for j in jobs)
    assert {o for j in jobs for o in j if o.startswith("model=")} == {"model=pspnet_r50", "model=segformer_b3"}


# sweeps whose runs differ by something other than a group choice, narrowed to that one varying dimension
VARIANTS = {
    "cs_ratio": (["strategy=gen_TSIT", "model=pspnet_r50"], 3),  # ratios
    "combination": (["strategy=gen_Img2Img", "model=pspnet_r50"], 3),  # augment
    "loss_ablation": (["strategy=baseline", "model=pspnet_r50", "dataset=bdd10k"], 4),  # loss
    "batch_size": (["strategy=baseline", "model=pspnet_r50"], 4),  # batch size
    "curriculum": ([], 3),  # schedule
    "domain_targeted": ([], 6),  # target domain
    "noise": (["model=pspnet_r50", "dataset=bdd10k_stratified"], 2),  # ratio
}


@pytest.mark.parametrize("sweep", sorted(VARIANTS))
def test_runs_that_differ_only_in_a_value_get_their_own_run_directory(sweep: str, searchpath: str) -> None:
    """Run names tell apart runs of a grid that differ in ratio, augment, loss, batch size, schedule or target domain."""
    from prove_lightning.tasks.plan import plan_sweep

    narrow, n = VARIANTS[sweep]
    runs = plan_sweep([f"sweep={sweep}", *narrow, searchpath])
    ids = [r.check.run_id for r in runs]
    assert len(runs) == n and len(set(ids)) == n, ids
    assert all(i.startswith(f"{runs[0].check.run_id.split('/')[0]}/") for i in ids)


def _values(jobs: list[list[str]], key: str) -> set[str]:
    return {o.split("=", 1)[1] for j in jobs for o in j if o.split("=", 1)[0] == key}


@pytest.mark.parametrize("sweep", sorted(GRIDS))
def test_sweep_runs_the_strategies_models_and_datasets_grids_md_names(sweep: str, searchpath: str) -> None:
    jobs = expand_sweep([f"sweep={sweep}", searchpath])
    for key, wanted in GRIDS[sweep].items():
        assert _values(jobs, key) == wanted, f"sweep={sweep} {key}: extra {sorted(_values(jobs, key) - wanted)}, missing {sorted(wanted - _values(jobs, key))}"


def test_newer_strategies_join_the_all_strategies_grids_only_through_grid_extra_strategies(searchpath: str) -> None:
    narrow = ["model=pspnet_r50", "dataset=bdd10k_stratified", searchpath]
    for sweep in ("s1", "s2", "from_scratch"):
        assert not _values(expand_sweep([f"sweep={sweep}", *narrow]), "strategy") & NEWER, sweep
    jobs = expand_sweep(["sweep=s1", "grid.extra_strategies=[gen_flux2,gen_EDICT]", *narrow])
    assert _values(jobs, "strategy") == ALL26 | {"gen_flux2", "gen_EDICT"}
    jobs = expand_sweep(["sweep=cg", "model=pspnet_r50", f"grid.extra_strategies=[{','.join(sorted(NEWER))}]", searchpath])
    assert _values(jobs, "strategy") == ALL26 | NEWER
    jobs = expand_sweep(["sweep=from_scratch_ratio0", "dataset=bdd10k_stratified", "grid.extra_strategies=[gen_NST]", searchpath])
    assert _values(jobs, "strategy") == (GEN21 - {"gen_LANIT"}) | {"gen_NST"}


def test_an_unknown_extra_strategy_is_an_error_not_a_silent_no_op(searchpath: str) -> None:
    with pytest.raises(Exception, match=r"grid.extra_strategies: \['gen_flux3'\]"):
        expand_sweep(["sweep=s1", "grid.extra_strategies=[gen_flux3]", searchpath])


def test_a_new_strategy_file_joins_every_all_strategies_grid_without_editing_a_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 10 item 5: the all-strategies grids are a rule over conf/strategy/, not pasted lists."""
    import prove_lightning.tasks.plan as plan

    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "strategy" / "gen_NewMethod.yaml").write_text("defaults:\n  - /shared/strategy_gen@_here_\n  - _self_\nmethod: NewMethod\n")
    monkeypatch.setattr(plan, "CONF_DIR", conf)
    narrow = ["model=pspnet_r50", "dataset=bdd10k_stratified"]
    assert _values(plan.expand_sweep(["sweep=s1", *narrow]), "strategy") == ALL26 | {"gen_NewMethod"}
    assert len(plan.expand_sweep(["sweep=s1"])) == (len(ALL26) + 1) * 4 * 4
    assert "gen_NewMethod" in _values(plan.expand_sweep(["sweep=cg", "model=pspnet_r50"]), "strategy")
    assert "gen_NewMethod" in _values(plan.expand_sweep(["sweep=from_scratch_ratio0", "dataset=bdd10k_stratified"]), "strategy")
