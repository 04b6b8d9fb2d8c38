"""Check a dataset tree the way training will read it: pairing, domain tags, sizes, label values, decodability.

Used by ``prove data check``. It goes through the same adapter (``scan``) and label table as training, so a
tree that passes here loads in training; every problem names the file and what to do.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from PIL import Image

from prove_lightning.data.labels import LabelMapping, get_label_mapping
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sources.base import OUR_SPLITS, DatasetSource, PairedSource
from prove_lightning.errors import DataError, ProveError
from prove_lightning.images import read_label

#: problem kinds, in report order, with the fix to print once per kind
KINDS: dict[str, str] = {
    "layout": "fix the tree or the dataset config (conf/dataset/)",
    "images_without_labels": "add the missing labels, or set dataset.source.on_unpaired=skip",
    "labels_without_images": "add the missing images, or set dataset.source.on_unpaired=skip",
    "untagged": "give dataset.source.domain_csv, or set dataset.source.untagged=skip|<domain>",
    "unreadable": "re-extract or delete the file",
    "size_mismatch": "regenerate the label at the image's size, or remove the pair",
    "unknown_label_values": "check the label type / variant in conf/dataset/, or fix the file",
    "split_overlap": "an image may belong to one split only: fix dataset.source.splits",
}


@dataclass
class Problem:
    kind: str
    path: Path | None
    detail: str = ""


@dataclass
class CheckReport:
    dataset: str
    label_mapping: str
    source: dict[str, Any] = field(default_factory=dict)  # the adapter's describe()
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> domain -> images
    domain_sources: dict[str, Counter] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_kind(self) -> dict[str, list[Problem]]:
        out: dict[str, list[Problem]] = defaultdict(list)
        for p in self.problems:
            out[p.kind].append(p)
        return {k: out[k] for k in KINDS if k in out}


def check_pair(rec: SampleRecord, mapping: LabelMapping, decode_images: bool = True) -> list[Problem]:
    """Problems of one image/label pair: undecodable files, size mismatch, ids outside the label set."""
    probs: list[Problem] = []
    size = None
    try:
        with Image.open(rec.image) as im:
            size = im.size
            if decode_images:
                im.load()
    except Exception as e:  # noqa: BLE001 - PIL raises many types for broken files; all mean "unreadable"
        probs.append(Problem("unreadable", rec.image, f"cannot decode image ({type(e).__name__}: {e})"))
    try:
        raw = read_label(rec.label)
    except DataError as e:
        probs.append(Problem("unreadable", rec.label, str(e).removeprefix(f"{rec.label}: ")))
        return probs
    if size is not None and raw.shape[::-1] != size:
        probs.append(Problem("size_mismatch", rec.label, f"label {raw.shape[1]}x{raw.shape[0]}, image {size[0]}x{size[1]} ({rec.image.name})"))
    listed = rec.extra.get("odgt_size")
    if size is not None and listed and all(listed) and tuple(listed) != size:
        probs.append(Problem("size_mismatch", rec.image, f"list says {listed[0]}x{listed[1]}, file is {size[0]}x{size[1]}"))
    bad = mapping.unknown_values(raw)
    if bad:
        probs.append(Problem("unknown_label_values", rec.label, f"values {bad[:10]} are not ids of the '{mapping.name}' label set (known: {mapping.known_summary()})"))
    return probs


def check_source(
    source: DatasetSource,
    decode_images: bool = True,
    jobs: int = 4,
    progress: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
) -> CheckReport:
    """Scan every mapped split of ``source`` and check every pair; nothing raised for data problems."""
    report = CheckReport(dataset=source.name, label_mapping="?", source=source.describe())
    try:
        mapping = get_label_mapping(source.label_mapping)
        report.label_mapping = mapping.name
    except ProveError as e:
        report.problems.append(Problem("layout", None, str(e)))
        return report
    seen: dict[Path, str] = {}
    for split in OUR_SPLITS:
        try:
            scan = source.scan(split) if isinstance(source, PairedSource) else None
            recs = scan.records if scan is not None else ([] if isinstance(source, PairedSource) else source.records(split))
        except ProveError as e:
            report.problems.append(Problem("layout", None, f"{split}: {e}"))
            continue
        if scan is None and isinstance(source, PairedSource):
            report.notes.append(f"{split}: not a split of its own here; carved from train at run time (dataset.val_fraction)" if split == "val" else f"{split}: not mapped")
            continue
        if scan is not None:
            report.notes.append(f"{split} = official '{scan.official}'")
            report.problems += [Problem("images_without_labels", p) for p in scan.images_without_labels]
            report.problems += [Problem("labels_without_images", p) for p in scan.labels_without_images]
            untagged_policy = getattr(source, "untagged", "error")
            if scan.untagged:
                if untagged_policy == "error":
                    report.problems += [Problem("untagged", p, "no domain from metadata or domain_csv") for p in scan.untagged]
                else:
                    report.notes.append(f"{split}: {len(scan.untagged)} untagged images -> untagged={untagged_policy}")
        if not recs and not any(p.kind in ("images_without_labels", "untagged") for p in report.problems):
            report.problems.append(Problem("layout", None, f"{split}: no images found; check the root and the layout in conf/dataset/"))
        report.counts[split] = Counter(r.domain for r in recs)
        report.domain_sources[split] = Counter(r.domain_source for r in recs)
        for r in recs:
            other = seen.setdefault(r.image, split)
            if other != split:
                report.problems.append(Problem("split_overlap", r.image, f"in {other} and {split}"))
        with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
            results = pool.map(lambda r: check_pair(r, mapping, decode_images), recs)
            if progress is not None:
                results = progress(results, len(recs), f"{source.name} {split}")
            for probs in results:
                report.problems += probs
    return report
