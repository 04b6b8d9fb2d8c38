"""The identity guard: a run directory holds one run; a job with another identity or another training setting
stops instead of resuming (or skipping as "done") under the old name.

A run directory records ``identity.json`` (the identity fields and their hash, and the hash of the training
view of its config) next to ``config.yaml``. The *training view* is the resolved config without what only
says where or how a job runs (paths, progress bars, workers, test sets, ...): every other key changes what is
trained, so a difference there is a different run. A deliberate change is allowed with
``allow_config_change=true`` and appended to the run's ``history.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any, Mapping

from prove_lightning.io import atomic_write_json
from prove_lightning.runs.spec import IDENTITY_FIELDS, RunDir, RunSpec

#: dotted prefixes of keys that do not change what is trained
NOT_TRAINING = (
    "paths", "run_dir", "run_relpath", "run_root", "hydra", "ckpt_path", "test_after_training", "preflight",
    "allow_config_change", "logger", "callbacks", "eval", "module.miou_convention", "module.val_images", "data.num_workers", "data.test_sources",
    "data.eval_batch_size", "stage.test_sets", "stage.test_train_dataset", "trainer.enable_progress_bar",
    "trainer.log_every_n_steps", "trainer.enable_model_summary", "dataset.eval_batch_size", "dataset.test_pipeline",
    "dataset.test_split", "dataset.prediction_format", "dataset.prediction_name", "data.test_pipeline",
    "stage.test_checkpoints", "stage.baseline_stage", "divergence", "trainer.detect_divergence",
)
#: leaves that name where data lies, not what it is (a dataset copied to another disk is the same dataset)
_PATH_LEAF = re.compile(r"(^|_)root$|_cache$|^cache|^dirpath$")


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: node}


def _excluded(key: str) -> bool:
    if any(key == p or key.startswith(p + ".") for p in NOT_TRAINING):
        return True
    return bool(_PATH_LEAF.search(key.rsplit(".", 1)[-1]))


def training_view(config: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened keys of a resolved config that change what is trained."""
    return {k: v for k, v in _flatten(config).items() if not _excluded(k)}


def _digest(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def config_hash(config: Mapping[str, Any]) -> str:
    """Hash of the training view: same training, same hash (result rows' ``config_hash``)."""
    return _digest(training_view(config))


def identity_hash(identity: Mapping[str, Any]) -> str:
    return _digest({k: identity.get(k) for k in IDENTITY_FIELDS})


def _saved_config(run_dir: RunDir) -> dict[str, Any] | None:
    if not run_dir.config_yaml.is_file():
        return None
    from omegaconf import OmegaConf  # its YAML reader reads back what OmegaConf.to_yaml wrote (1e-05 is a float)

    return OmegaConf.to_container(OmegaConf.load(run_dir.config_yaml), resolve=False)


def _saved_identity(run_dir: RunDir) -> dict[str, Any] | None:
    try:
        return json.loads(run_dir.identity_json.read_text())["fields"]
    except (OSError, ValueError, KeyError):
        return None


def differences(spec: RunSpec) -> list[tuple[str, Any, Any]]:
    """(key, recorded, now) for every identity field and training key in which this job differs from its run dir."""
    saved = _saved_config(spec.run_dir)
    if saved is None:
        return []
    out: list[tuple[str, Any, Any]] = []
    ident = _saved_identity(spec.run_dir)
    if ident is not None:
        out += [(k, ident.get(k), v) for k, v in spec.identity.items() if ident.get(k) != v]
    old, new = training_view(saved), training_view(spec.config)
    for k in sorted(set(old) | set(new)):
        # a key one side lacks and the other leaves null (a newer option's default) changes nothing
        if _norm(old.get(k)) != _norm(new.get(k)):
            out.append((k, old.get(k, "<absent>"), new.get(k, "<absent>")))
    return out


def _norm(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def describe(diffs: list[tuple[str, Any, Any]], limit: int = 8) -> str:
    shown = [f"{k}: {old!r} -> {new!r}" for k, old, new in diffs[:limit]]
    more = f" (+{len(diffs) - limit} more)" if len(diffs) > limit else ""
    return "; ".join(shown) + more


def record(spec: RunSpec, changes: list[tuple[str, Any, Any]] | None = None) -> None:
    """Write identity.json; a deliberate change (``changes``) is appended to history.jsonl first."""
    spec.run_dir.path.mkdir(parents=True, exist_ok=True)
    if changes:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "event": "config_change", "changes": [[k, o, n] for k, o, n in changes]}
        with spec.run_dir.history.open("a") as f:
            f.write(json.dumps(entry, default=str) + "\n")
    atomic_write_json(
        spec.run_dir.identity_json,
        {"hash": identity_hash(spec.identity), "fields": spec.identity, "config_hash": config_hash(spec.config)},
    )
