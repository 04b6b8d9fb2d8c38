"""Every study's sweep expands, from config alone, to the number of runs the study catalogue implies.

The catalogue (shared reference studies.md) is restated below as its own numbers (5 std strategies incl.
baseline, 27 gen methods, 4 models in S1/S2 grids, 5 in Cityscapes grids, 4 training datasets, ...), so these
tests compare two independent statements of a study: the sweep files and the catalogue.

Sweep files name datasets, models, strategies, losses and augmentations that other parts of the project
define. `test_every_referenced_option_exists` checks each name has its conf/ file. The structural tests
below also run where some are still missing (a branch built before the others were merged): for those,
and only those, they put minimal stand-in option files on Hydra's search path; conf/ always wins.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from prove_lightning.config import CONF_DIR
from prove_lightning.tasks.plan import expand_sweep

GROUPS = ("stage", "dataset", "model", "strategy", "augment", "loss")

# ---- the catalogue's numbers (studies.md), independent of conf/ ------------------------------------------
STD = 5  # baseline, std_autoaugment, std_cutmix, std_mixup, std_randaugment
GEN = 27  # gen_* method folders
ALL = STD + GEN  # "all strategies" (gen_random_noise belongs to the noise study only)
MODELS = 4  # deeplabv3plus_r50, pspnet_r50, segformer_b3, segnext_b  (S1/S2 grids)
MODELS_CS = 5  # + mask2former_swin_b  (Cityscapes grids)
DATASETS = 4  # bdd10k, iddaw, mapillary, outside15k
RATIOS = 3  # ratio ablations: 0.0, 0.25, 0.75
SELECTED = 10  # "selected strategies" of S2: this project's selection, 5 std + 5 gen (conf/sweep/s2.yaml)
EXTENDED = 5  # "5 strategies" of the extended study
TOP = 6  # cross-dataset: "top strategies + baseline" (baseline + 5 gen)

EXPECTED = {
    "s1": ALL * MODELS * DATASETS,  # 512
    "s2": SELECTED * MODELS * DATASETS,  # 160
    "cg": ALL * MODELS_CS,  # 160, Cityscapes only
    "cityscapes": 1 * MODELS_CS,  # baseline x models
    "cs_ratio": 4 * MODELS * RATIOS,  # 4 gen strategies x 4 models x 3 ratios
    "s1_ratio": 2 * 2 * 2 * RATIOS,  # VisualCloze, TSIT x pspnet, segformer x BDD10k, IDD-AW x 3 ratios
    "noise": 1 * MODELS * DATASETS * 2,  # gen_random_noise x models x 4 datasets x ratios 0.5, 0.0
    "noise_cg": 1 * MODELS_CS * 2,  # the "(+ Cityscapes)" arm
    "extended_s1": EXTENDED * 2 * 2,  # x pspnet, segformer x BDD10k, IDD-AW
    "extended_cg": EXTENDED * 2,  # x pspnet, segformer on Cityscapes
    "combination": 3 * 3 * 2,  # {Qwen_Image_Edit, Img2Img, augmenters} x {cutmix, autoaugment, mixup} x 2 models
    "from_scratch": ALL * 1 * DATASETS,  # ratio 0.5 arm: all strategies x segformer_mit-b3
    "from_scratch_ratio0": GEN * 1 * DATASETS,  # ratio 0.0 arm: gen strategies only
    "loss_ablation": 4 * 2 * 2 * 2,  # 4 loss setups x (baseline, one gen) x 2 models x 2 datasets ("selected")
    "batch_size": 4 * 2 * 2,  # batch 2/4/8/16 x (baseline, one gen) x 2 models on BDD10k ("selected")
    "cross_dataset": TOP * MODELS * DATASETS,
    "curriculum": 3,  # gen_automold x segformer x BDD10k x 3 timings
    "domain_targeted": 6,  # one strategy x each adverse target domain
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
            if key in GROUPS:
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
    assert len(jobs) == EXPECTED[sweep], f"sweep={sweep}: {len(jobs)} runs, catalogue implies {EXPECTED[sweep]}"
    assert len({tuple(sorted(j)) for j in jobs}) == len(jobs)
    assert all(f"sweep={sweep}" in j for j in jobs)


def test_command_line_narrows_a_sweep_as_hydra_does(searchpath: str) -> None:
    jobs = expand_sweep(["sweep=s1", "dataset=bdd10k", "model=pspnet_r50,segformer_b3", searchpath])
    assert len(jobs) == ALL * 2
    assert all("dataset=bdd10k" in j for j in jobs)
    assert {o for j in jobs for o in j if o.startswith("model=")} == {"model=pspnet_r50", "model=segformer_b3"}


# sweeps whose runs differ by something other than a group choice, narrowed to that one varying dimension
VARIANTS = {
    "cs_ratio": (["strategy=gen_Img2Img", "model=pspnet_r50"], 3),  # ratios
    "combination": (["strategy=gen_Img2Img", "model=pspnet_r50"], 3),  # augment
    "loss_ablation": (["strategy=baseline", "model=pspnet_r50", "dataset=bdd10k"], 4),  # loss
    "batch_size": (["strategy=baseline", "model=pspnet_r50"], 4),  # batch size
    "curriculum": ([], 3),  # schedule
    "domain_targeted": ([], 6),  # target domain
    "noise_cg": (["model=pspnet_r50"], 2),  # ratio
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
