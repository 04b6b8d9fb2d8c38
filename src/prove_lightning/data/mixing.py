"""Real/generated mixing for one run: the ratio schedule, the generated pool and the noise switch.

``data.mixing`` (built from the strategy in conf/train.yaml) holds:

    ratio             fraction of each batch that is real (strategy.ratio; 1.0 = real only)
    schedule          how the ratio varies with the step (data/ratio_schedule.py); null = constant
    pool              'manifest': generated rows from ``manifest`` (gen_* strategies);
                      'real': the generated pool is the run's own real training records (their images
                      and labels) and requires ``noise`` (gen_random_noise: every generated slot shows
                      uniform noise with a real label, so no manifest and no generated folder exist)
    manifest          path of the manifest CSV (from paths.generated_root / dataset.generated_root)
    method            the method name rows must carry; domains: keep only rows of these domains
    noise             replace generated images by uniform noise (labels kept), composable with any pool
    generator         a built-in generator (_target_) that can write the images and manifest
    generate_missing  write them automatically when the manifest is missing or stale (ToyCity)
    options           the ``manifest`` config node (domain aliases, checks)

When the schedule never asks for a generated sample (ratio 1.0), nothing of this is loaded.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from prove_lightning.data.manifest import ManifestOptions, load_manifest
from prove_lightning.data.noise import UniformNoise
from prove_lightning.data.ratio_schedule import build_schedule
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sampler import real_counts
from prove_lightning.data.sources.base import DatasetSource
from prove_lightning.errors import ConfigError

log = logging.getLogger(__name__)

POOLS = ("manifest", "real")


class Mixing:
    """The validated mixing settings of a run; ``generated_pool`` builds the generated records."""

    def __init__(
        self,
        batch_size: int,
        max_steps: int,
        ratio: float = 1.0,
        schedule: Mapping[str, Any] | str | None = None,
        pool: str | None = None,
        manifest: str | None = None,
        method: str | None = None,
        domains: Sequence[str] | str | None = None,
        noise: bool = False,
        generator: Any = None,
        generate_missing: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.schedule = build_schedule(dict(schedule) if isinstance(schedule, Mapping) else schedule, ratio, max_steps)
        self.ratio = self.schedule.ratio
        self.batch_size = batch_size
        self.real_per_step = real_counts(self.schedule, batch_size, max_steps)
        self.active = bool((self.real_per_step < batch_size).any())
        self.pool = pool or "manifest"
        if self.pool not in POOLS:
            raise ConfigError(f"strategy.pool={self.pool!r} is unknown; use 'manifest' (generated images) or 'real' (noise ablation)")
        if self.pool == "real" and not noise:
            raise ConfigError("strategy.pool=real makes the generated pool a copy of the real images; it only makes sense with strategy.noise=true")
        self.manifest = Path(manifest) if manifest else None
        if self.active and self.pool == "manifest" and self.manifest is None:
            raise ConfigError("strategy.manifest is not set but the ratio asks for generated images; use a gen_* strategy or set strategy.ratio=1.0")
        self.method = method
        self.domains = [domains] if isinstance(domains, str) else (list(domains) if domains is not None else None)
        self.noise = bool(noise)
        self.generator = generator
        self.generate_missing = bool(generate_missing)
        self.options = ManifestOptions.from_config(options) if options is not None else None
        self.report: dict[str, Any] = {}
        if not self.active and (self.noise or self.manifest):
            log.warning("mixing disabled: %s gives no generated slot in any batch (real only); strategy.manifest/noise are not used", self.schedule.describe())

    # ------------------------------------------------------------------ pool
    def generated_pool(
        self,
        source: DatasetSource,
        train_records: Sequence[SampleRecord],
        excluded: Mapping[str, str],
        seed: int,
    ) -> list[SampleRecord]:
        """The generated records of this run (empty when mixing is inactive); fills ``self.report``."""
        if not self.active:
            self.report = {}
            return []
        if self.pool == "real":
            recs = [
                replace(r, generated=True, method=self.method or "random_noise", original=r.image, domain_source="real image, replaced by noise")
                for r in train_records
                if self.domains is None or r.domain in self.domains
            ]
            self.report = {"pool": "real training records (images replaced by uniform noise)", "used": len(recs)}
            if not recs:
                raise ConfigError(f"strategy.domains={self.domains} leaves no real training image for the noise pool")
            return recs
        if self.options is None:
            raise ConfigError("data.mixing.options (the `manifest` config node) is missing")
        if self.generator is not None and self.generate_missing:
            from prove_lightning.data.generators.run import ensure_generated

            ensure_generated(self.generator, method=self.method or "generated", manifest=self.manifest, source=source, options=self.options)
        aliases = [getattr(source, "dataset_dir", source.name)]
        recs, report = load_manifest(
            self.manifest,
            dataset=source.name,
            dataset_aliases=aliases,
            train_records=train_records,
            excluded=excluded,
            options=self.options,
            method=self.method,
            domains=self.domains,
            seed=seed,
        )
        self.report = report.to_dict()
        return recs

    # ------------------------------------------------------------------ hooks / audit
    def sample_hooks(self) -> list[Any]:
        """Hooks applied to every training sample (the noise hook acts on generated samples only)."""
        return [UniformNoise()] if self.active and self.noise else []

    def load_step(self) -> str:
        if self.pool == "real":
            return "Load(a real training image and its label; the image is then replaced by noise)"
        return "Load(generated image from the manifest, label of its original)"

    def expected_real(self, step: int) -> int:
        return int(self.real_per_step[step])

    def describe(self, n_generated: int = 0, per_domain: Mapping[str, int] | None = None) -> dict[str, Any]:
        real = self.real_per_step
        return {
            "active": self.active,
            "ratio": self.ratio,
            "schedule": self.schedule.describe(),
            "batch_size": self.batch_size,
            "expected_real_per_batch": {"first_step": int(real[0]), "last_step": int(real[-1]), "min": int(real.min()), "max": int(real.max())},
            "expected_real_fraction_over_run": float(real.sum() / (self.batch_size * len(real))),
            "pool": self.pool if self.active else None,
            "method": self.method,
            "manifest_path": str(self.manifest) if self.manifest else None,
            "domains_filter": self.domains,
            "noise": self.noise and self.active,
            "generated_pool_size": n_generated,
            "generated_pool_per_domain": dict(per_domain or {}),
            "manifest": self.report,
        }


def pool_per_domain(records: Sequence[SampleRecord]) -> dict[str, int]:
    vals, counts = np.unique([r.domain for r in records], return_counts=True) if records else ([], [])
    return {str(v): int(c) for v, c in zip(vals, counts)}
