"""The results store as pre-flight sees it: which (run, step, test set) already have rows."""

from __future__ import annotations

from pathlib import Path

from prove_lightning.runs.preflight import ResultsIndex


def results_index(output_root: str | Path) -> ResultsIndex:
    """A ResultsIndex over ``{output_root}/results.csv``, read on its first question (imports pandas then)."""

    def load() -> set[tuple[str, int, str]]:
        from prove_lightning.evaluation.results import ResultsStore

        return ResultsStore(output_root).tested_keys()

    return ResultsIndex(load)
