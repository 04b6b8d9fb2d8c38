"""Which checkpoints of a run are tested after training: ``stage.test_checkpoints: final | all | [steps]``.

- ``final``: the checkpoint at max_steps (most stages).
- ``all``: every checkpoint the run saves (each ``checkpoint_interval`` steps, and max_steps); an extended run
  starts from its source's final step, which is tested too, from the source's checkpoint: extended_s1
  (15k -> 45k, every 5k) tests 15k, 20k, ..., 45k = 7 checkpoints per run, as the team did.
- ``[steps]``: those steps; each must be one the run saves a checkpoint at.

Pre-flight (a run is done when every selected checkpoint is tested on every test set), training's test after
fit and ``prove plan`` all take the list from :func:`steps_to_test`, so they agree on what "tested" means;
every result row carries its checkpoint's step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from prove_lightning.errors import ConfigError

FINAL, ALL = "final", "all"


def steps_to_test(setting: str | int | Sequence[int] | None, max_steps: int, interval: int, start: int = 0) -> list[int]:
    """The checkpoint steps to test, ascending; ``start`` is the step an extended run resumes from (0: none)."""
    max_steps, interval, start = int(max_steps), int(interval), int(start or 0)
    saved = {s for s in range(interval, max_steps + 1, interval) if s > start} | {max_steps} if interval > 0 else {max_steps}
    if start:
        saved.add(start)
    if setting is None or setting == FINAL:
        return [max_steps]
    if setting == ALL:
        return sorted(saved)
    if isinstance(setting, str):
        raise ConfigError(f"stage.test_checkpoints={setting!r}: use 'final', 'all' or a list of checkpoint steps, e.g. [5000,10000]")
    steps = [setting] if isinstance(setting, int) else list(setting)
    try:
        steps = sorted({int(s) for s in steps})
    except (TypeError, ValueError):
        raise ConfigError(f"stage.test_checkpoints={setting!r}: the list must hold checkpoint steps (integers)") from None
    unsaved = [s for s in steps if s not in saved]
    if unsaved:
        raise ConfigError(
            f"stage.test_checkpoints: no checkpoint is saved at step(s) {unsaved}; the run saves {sorted(saved)} "
            f"(every stage.checkpoint_interval={interval} up to max_steps={max_steps}{f', from step {start}' if start else ''})"
        )
    return steps


def checkpoint_of(run_dir: str | Path, step: int, source_ckpt: str | Path | None = None, source_step: int | None = None) -> Path:
    """The file of one tested step: the run's own step_N.ckpt, or the source's final one at an extended run's start."""
    if source_ckpt is not None and source_step is not None and int(step) == int(source_step):
        return Path(source_ckpt)
    return Path(run_dir) / "checkpoints" / f"step_{int(step)}.ckpt"


def checkpoints_to_test(
    setting: str | int | Sequence[int] | None, max_steps: int, interval: int, run_dir: str | Path, source: object | None = None
) -> list[tuple[int, Path]]:
    """(step, checkpoint file) of every checkpoint to test; ``source`` is an extended run's SourceRun (else None)."""
    extend = source is not None and getattr(source, "mode", None) == "extend"
    start = int(getattr(source, "max_steps", 0) or 0) if extend else 0
    src_ckpt = getattr(source, "final_ckpt", None) if extend else None
    return [(s, checkpoint_of(run_dir, s, src_ckpt, start or None)) for s in steps_to_test(setting, max_steps, interval, start)]
