"""Run a built-in generator over a dataset's training images and build the manifest (cached, like ToyCity).

Output: ``<folder>/<target>/<DatasetDir>/<original stem>.png`` next to ``<folder>/manifest.csv``, where
``<folder>`` is the folder of the strategy's manifest. ``generator.<dataset>.json`` records what was
generated (generator parameters, the originals); when it still matches, nothing is redone. Images are
written to a temporary folder first and moved into place, and the stamp is written last, so an
interrupted generation is redone from scratch on the next call. A folder the generator did not write
(no stamp) is never overwritten without ``force``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from filelock import FileLock

from prove_lightning.data.generators.base import Generator
from prove_lightning.data.manifest import ManifestOptions, abspath
from prove_lightning.data.manifest_build import build_manifest
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sources.base import DatasetSource
from prove_lightning.errors import DataError
from prove_lightning.images import read_image, write_png
from prove_lightning.io import atomic_write_json

log = logging.getLogger(__name__)
STAMP_VERSION = 1


def generate_images(generator: Generator, records: Sequence[SampleRecord], out_root: Path, dataset_dir: str, progress: bool = False) -> Counter:
    """Translate every record into every target; returns images written per target."""
    written: Counter = Counter()
    items = list(records)
    if progress:
        from rich.progress import track

        items = track(items, description=f"generating {len(generator.targets)} targets", transient=True)
    for rec in items:
        img = read_image(rec.image)
        stem = Path(rec.image).stem
        for t in generator.targets:
            out = generator.translate(img, t, generator.image_seed(stem, t))
            if out.shape != img.shape or out.dtype != img.dtype:
                raise DataError(f"generator {type(generator).__name__} target '{t}' returned {out.shape} {out.dtype} for {rec.image} ({img.shape} uint8); it must keep the size")
            write_png(out_root / t / dataset_dir / f"{stem}.png", out)
            written[t] += 1
    return written


def stamp_for(generator: Generator, method: str, dataset: str, originals: Sequence[SampleRecord]) -> dict[str, Any]:
    paths = sorted(abspath(r.image) for r in originals)
    return {
        "version": STAMP_VERSION,
        "method": method,
        "dataset": dataset,
        "generator": json.loads(json.dumps(generator.params(), default=str)),
        "n_originals": len(paths),
        "originals_sha1": hashlib.sha1("\n".join(paths).encode()).hexdigest(),
    }


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def ensure_generated(
    generator: Generator,
    *,
    method: str,
    manifest: str | os.PathLike,
    source: DatasetSource,
    options: ManifestOptions,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate (if missing or stale) the images of ``source``'s training images and their manifest; returns the stamp."""
    manifest = Path(manifest)
    folder = manifest.parent
    stamp_path = folder / f"generator.{source.name}.json"
    all_train = source.records("train")
    originals = [r for r in all_train if r.domain in generator.source_domains]
    if not originals:
        raise DataError(f"dataset '{source.name}' has no training images in {list(generator.source_domains)} to translate; check strategy.generator.source_domains")
    want = stamp_for(generator, method, source.name, originals)

    def current() -> bool:
        old = _read_stamp(stamp_path)
        return bool(old) and manifest.is_file() and {k: old.get(k) for k in want} == want

    if not force and current():
        return want
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / f".generate.{source.name}.lock")):
        if not force and current():
            return want
        dataset_dir = getattr(source, "dataset_dir", source.name)
        old = _read_stamp(stamp_path)
        theirs = sorted(str(d) for d in folder.glob(f"*/{dataset_dir}") if d.is_dir())
        if theirs and old is None and not force:
            raise DataError(
                f"{folder} already holds generated images of {dataset_dir} ({theirs[:3]}) that `prove generate` did not write; "
                "pass --force to replace them or set paths.generated_root elsewhere"
            )
        log.info("generating %s images of %d %s training images into %s", method, len(originals), source.name, folder)
        tmp = folder / f".tmp-{source.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            written = generate_images(generator, originals, tmp, dataset_dir, progress)
            stale = set((old or {}).get("generator", {}).get("targets", {}) or []) - set(generator.targets)
            for t in [*generator.targets, *stale]:
                shutil.rmtree(folder / t / dataset_dir, ignore_errors=True)
            for t in generator.targets:
                (folder / t).mkdir(parents=True, exist_ok=True)
                os.replace(tmp / t / dataset_dir, folder / t / dataset_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        summary = build_manifest(
            folder, method=method, dataset=source.name, dataset_aliases=[dataset_dir], records=all_train, options=options, output=manifest, progress=progress, layout="domain_dataset"
        )
        if summary["unmatched"]:
            raise DataError(f"{summary['unmatched']} generated images did not match their originals: {summary['unmatched_files'][:3]}")
        atomic_write_json(stamp_path, {**want, "written": dict(written), "manifest_rows": summary["matched"]})
    return want
