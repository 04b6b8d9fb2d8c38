"""The pipeline audit: what the training loader really delivered, counted from the loaded batches.

``PipelineAudit`` counts, in ``on_train_batch_start`` (the batch as the loader produced it, before
any batch-level hook), real and generated samples per batch from ``batch['generated']``, noise-replaced
ones from ``batch['noise']``, and generated samples per domain; it compares each batch with the count
the ratio schedule asks for. Its counters are saved in checkpoints, so a resumed run reports the whole
run. ``audit.json`` = the datamodule's description (pools, dropped manifest rows, transforms) plus
``realised``; it is rewritten when fit starts (after a resume restored the counters), at every
checkpoint and at the end, and logged to TensorBoard as text.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytorch_lightning as pl
import torch

from prove_lightning.io import atomic_write_json

FIRST_BATCHES = 10
#: counters summed over ranks for the report's "global" entry under DDP
_GATHERED = ("batches", "real", "generated", "noise", "off_schedule")


def _bools(x: Any, n: int) -> list[bool]:
    if x is None:
        return [False] * n
    if isinstance(x, torch.Tensor):
        return [bool(v) for v in x.flatten().tolist()]
    return [bool(v) for v in x]


class PipelineAudit(pl.Callback):
    def __init__(self, path: str | Path, static: dict[str, Any], expected_real: Callable[[int], int] | None = None, first_batches: int = FIRST_BATCHES) -> None:
        self.path = Path(path)
        self.static = static
        self.expected_real = expected_real
        self.first_n = first_batches
        self.reset()

    def reset(self) -> None:
        self.batches = 0
        self.real = 0
        self.generated = 0
        self.noise = 0
        self.off_schedule = 0
        self.real_per_domain: Counter = Counter()
        self.generated_per_domain: Counter = Counter()
        self.generated_unique: set[int] = set()
        self.first: list[dict[str, Any]] = []
        self.per_rank: list[dict[str, int]] | None = None

    # ------------------------------------------------------------------ counting
    def count(self, batch: dict[str, Any], step: int) -> None:
        n = len(batch["domain"])
        gen = _bools(batch.get("generated"), n)
        noise = _bools(batch.get("noise"), n)
        idx = batch["index"].tolist() if isinstance(batch.get("index"), torch.Tensor) else list(batch.get("index", []))
        n_gen = sum(gen)
        self.batches += 1
        self.real += n - n_gen
        self.generated += n_gen
        self.noise += sum(noise)
        for g, d, i in zip(gen, batch["domain"], idx or [None] * n):
            if g:
                self.generated_per_domain[d] += 1
                self.generated_unique.add(int(i))
            else:
                self.real_per_domain[d] += 1
        expected = self.expected_real(step) if self.expected_real else None
        if expected is not None and expected != n - n_gen:
            self.off_schedule += 1
        if len(self.first) < self.first_n:
            self.first.append(
                {"step": step, "real": n - n_gen, "generated": n_gen, "noise": sum(noise), "expected_real": expected, "generated_domains": dict(Counter(d for g, d in zip(gen, batch["domain"]) if g))}
            )

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self.count(batch, trainer.global_step)

    # ------------------------------------------------------------------ report
    def realised(self) -> dict[str, Any]:
        total = self.real + self.generated
        return {
            "source": "counted from the loaded training batches (batch['generated'], batch['noise'])",
            "batches": self.batches,
            "samples": total,
            "real": self.real,
            "generated": self.generated,
            "noise_replaced": self.noise,
            "real_fraction": round(self.real / total, 6) if total else None,
            "batches_off_schedule": self.off_schedule,
            "real_per_domain": dict(sorted(self.real_per_domain.items())),
            "generated_per_domain": dict(sorted(self.generated_per_domain.items())),
            "generated_unique_rows": len(self.generated_unique),
            "first_batches": self.first,
        }

    def report(self) -> dict[str, Any]:
        return {**self.static, "realised": self.realised()}

    def write(self, trainer: pl.Trainer | None = None) -> None:
        if trainer is not None and trainer.global_rank != 0:
            return
        rep = self.report()
        counts = getattr(trainer.lightning_module, "augment_counts", None) if trainer is not None else None
        if counts:  # std_* ops as applied to the loaded samples (SegModule counts them per batch)
            rep["augment_applied"] = dict(counts)
            rep["augment_applied_rule"] = "samples each op changed (image or label differ after it); a drawn op that left the sample unchanged is not counted"
        if trainer is not None:
            rep["realised"]["rank"] = 0
            rep["realised"]["world_size"] = trainer.world_size
            if trainer.world_size > 1:
                rep["realised"]["note"] = (
                    "counts of rank 0; every rank draws its own disjoint slice of the global batch (the ratio holds for the "
                    "global batch: see per_rank / global, gathered when training ends)"
                )
            if self.per_rank is not None:
                rep["realised"]["per_rank"] = self.per_rank
                rep["realised"]["global"] = {k: sum(r[k] for r in self.per_rank) for k in _GATHERED}
        atomic_write_json(self.path, rep)

    def gather(self, trainer: pl.Trainer) -> None:
        """Every rank's counters (a collective: called on all ranks at the end of training)."""
        mine = torch.tensor([getattr(self, k) for k in _GATHERED], dtype=torch.int64, device=trainer.strategy.root_device)
        rows = trainer.strategy.all_gather(mine).reshape(-1, len(_GATHERED)).cpu().tolist()
        self.per_rank = [{"rank": r, **dict(zip(_GATHERED, map(int, row)))} for r, row in enumerate(rows)]

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # counters restored from a checkpoint are in place here: a re-run of a finished run keeps its counts.
        # Checkpoints hold rank 0's counters: the other ranks count from this launch on.
        if trainer.global_rank != 0:
            self.reset()
        self.write(trainer)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        self.write(trainer)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:
            self.gather(trainer)
        self.write(trainer)
        if trainer.global_rank != 0:
            return
        for logger in trainer.loggers:
            exp = getattr(logger, "experiment", None)
            if hasattr(exp, "add_text"):
                text = json.dumps(self.report(), indent=2, default=str)
                exp.add_text("audit/pipeline", "```\n" + text + "\n```", global_step=trainer.global_step)

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "real": self.real,
            "generated": self.generated,
            "noise": self.noise,
            "off_schedule": self.off_schedule,
            "real_per_domain": dict(self.real_per_domain),
            "generated_per_domain": dict(self.generated_per_domain),
            "generated_unique": sorted(self.generated_unique),
            "first": self.first,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches, self.real, self.generated = state["batches"], state["real"], state["generated"]
        self.noise, self.off_schedule = state["noise"], state["off_schedule"]
        self.real_per_domain = Counter(state["real_per_domain"])
        self.generated_per_domain = Counter(state["generated_per_domain"])
        self.generated_unique = set(state["generated_unique"])
        self.first = list(state["first"])
