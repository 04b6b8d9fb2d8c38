"""stage.test_checkpoints: final | all | [steps]: which checkpoints are tested after training, and pre-flight agrees.

issue 12: the extended and convergence studies need every checkpoint tested (the team had 7 tests per extended
model); pre-flight tested only the final one.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from prove_lightning.config import compose
from prove_lightning.errors import ConfigError
from prove_lightning.runs.test_checkpoints import checkpoints_to_test, steps_to_test


def test_final_all_and_a_list_of_steps() -> None:
    assert steps_to_test("final", 40000, 5000) == [40000]
    assert steps_to_test("all", 40000, 5000) == [5000 * i for i in range(1, 9)]
    assert steps_to_test("all", 45000, 5000, start=15000) == [15000, 20000, 25000, 30000, 35000, 40000, 45000]  # 7, as the team
    assert steps_to_test("all", 10, 4) == [4, 8, 10]  # the final step is always saved
    assert steps_to_test([10000, 5000], 40000, 5000) == [5000, 10000]
    with pytest.raises(ConfigError, match=r"no checkpoint is saved at step\(s\) \[7000\]"):
        steps_to_test([7000], 40000, 5000)
    with pytest.raises(ConfigError, match="use 'final', 'all'"):
        steps_to_test("every", 40000, 5000)


def test_an_extended_run_tests_its_start_from_the_source_checkpoint(tmp_path: Path) -> None:
    src = SimpleNamespace(mode="extend", max_steps=15000, final_ckpt=tmp_path / "s1/run/checkpoints/step_15000.ckpt")
    todo = checkpoints_to_test("all", 45000, 5000, tmp_path / "ext/run", src)
    assert todo[0] == (15000, src.final_ckpt)
    assert todo[1] == (20000, tmp_path / "ext/run/checkpoints/step_20000.ckpt") and len(todo) == 7


@pytest.mark.parametrize(("stage", "n"), [("extended_s1", 7), ("extended_cg", 9), ("from_scratch", 8), ("s1", 1), ("cg", 1)])
def test_extended_and_from_scratch_stages_test_every_checkpoint(stage: str, n: int, tmp_path: Path) -> None:
    cfg = compose("train", [f"stage={stage}", f"paths.output_root={tmp_path}"])
    start = {"extended_s1": 15000, "extended_cg": 20000}.get(stage, 0)
    assert len(steps_to_test(cfg.stage.test_checkpoints, cfg.stage.max_steps, cfg.stage.checkpoint_interval, start)) == n


def test_every_checkpoint_is_tested_after_training_and_preflight_knows(train_cfg) -> None:  # noqa: ANN001
    from prove_lightning.evaluation.results import ResultsStore
    from prove_lightning.runs.preflight import DONE, NOT_TESTED, check_run
    from prove_lightning.tasks.spec import build_run_spec
    from prove_lightning.tasks.store import results_index
    from prove_lightning.train import run_training

    short = ["trainer.max_steps=4", "trainer.val_check_interval=4", "stage.checkpoint_interval=2", "+trainer.limit_val_batches=0"]
    result = run_training(train_cfg("stage.test_checkpoints=all", *short))
    assert sorted({r["step"] for r in result["test_rows"]}) == [2, 4]  # every row carries its checkpoint's step
    spec = build_run_spec(train_cfg("stage.test_checkpoints=all", *short))
    assert check_run(spec, results_index(spec.output_root)).status == DONE
    # a selected step without results: the run is trained but not tested (pre-flight sees the step)
    store = ResultsStore(spec.output_root)
    with store.lock:
        df = store.read()
    df[df.step != 2].to_csv(store.path, index=False)
    check = check_run(spec, results_index(spec.output_root))
    assert check.status == NOT_TESTED and "step 2 on" in check.detail
    final_only = build_run_spec(train_cfg("stage.test_checkpoints=final", *short))
    assert check_run(final_only, results_index(spec.output_root)).status == DONE
    assert check_run(build_run_spec(train_cfg("stage.test_checkpoints=[2,4]", *short)), results_index(spec.output_root)).status == NOT_TESTED
