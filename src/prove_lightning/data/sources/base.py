"""What every dataset adapter provides, and the shared logic of pairing, split mapping and domain tagging.

An adapter only says where a dataset's files are (:meth:`DatasetSource.find`): every image of one official
split with its label (or None) and the domain its own metadata gives (or None), plus labels that have no
image. The base class turns that into records:

* **splits**: ``splits`` maps our train / val / test to the dataset's own split folders. The test split is
  never the val split (the old pipeline validated on its test set); with ``val: null`` the datamodule carves a
  seeded, domain-stratified val split out of train.
* **domains**: the dataset's metadata first; else the optional ``domain_csv`` (image,domain); else the
  ``untagged`` policy: ``error`` (default: stop and say how to tag), ``skip`` (leave the image out, counted
  in audit.json) or a domain name (tag it so, with domain_source ``untagged_default``).
* **pairs**: an image without a label or a label without an image stops the run (``on_unpaired: error``) or,
  with ``on_unpaired: skip``, is left out and counted.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sources.domain_csv import DomainTable, load_domain_csv
from prove_lightning.errors import ConfigError, DataError

log = logging.getLogger(__name__)

OUR_SPLITS = ("train", "val", "test")


@dataclass
class Found:
    """One image of an official split as the adapter found it on disk."""

    image: Path
    label: Path | None
    domain: str | None = None
    domain_source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SplitScan:
    """Everything known about one of our splits before policies are applied (what `prove data check` shows)."""

    split: str
    official: str
    records: list[SampleRecord]
    images_without_labels: list[Path]
    labels_without_images: list[Path]
    untagged: list[Path]
    #: images the untagged / unpaired policy left out
    skipped: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.domain for r in self.records).items()))


class DatasetSource(ABC):
    """Indexes one dataset tree; ``records('val')`` returns [] when the dataset has no val split of its own."""

    #: key of the dataset (cityscapes, toycity, ...): records' ``dataset`` and the test-set name in results
    name: str
    #: key in data.labels' registry
    label_mapping: str = "trainids"
    #: True when the dataset ships its own validation split (else the datamodule carves one from train)
    has_val_split: bool = False

    @abstractmethod
    def records(self, split: str) -> list[SampleRecord]:
        """All labelled samples of ``split`` ('train', 'val' or 'test')."""

    def describe(self) -> dict[str, Any]:
        """What the adapter did (for audit.json): layout, label mapping, domain sources, skipped images."""
        return {"name": self.name, "label_mapping": self.label_mapping}

    @staticmethod
    def require_dir(path: Path, what: str, fix: str) -> Path:
        if not path.is_dir():
            raise DataError(f"{what} not found: {path} does not exist or is not a folder; {fix}")
        return path


class PairedSource(DatasetSource):
    """Base of the real-dataset adapters: subclasses implement :meth:`find` for one official split."""

    #: the dataset's own split folders that hold labels (test GT is withheld for most datasets)
    LABELLED_SPLITS: tuple[str, ...] = ("train", "val")
    #: our split -> official split; val null = carve from train; test = official val when test GT is withheld
    DEFAULT_SPLITS: Mapping[str, str | None] = {"train": "train", "val": None, "test": "val"}
    #: how to set this dataset's root (for error messages)
    ROOT_HINT: str = "set paths.data_root"

    def __init__(
        self,
        root: str | Path,
        name: str,
        splits: Mapping[str, str | None] | None = None,
        domain_csv: str | Path | None = None,
        untagged: str = "error",
        on_unpaired: str = "error",
        label_mapping: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.name = name
        if label_mapping is not None:
            self.label_mapping = label_mapping
        self.splits = self._check_splits(dict(self.DEFAULT_SPLITS if splits is None else splits))
        if untagged not in ("error", "skip", *DOMAINS):
            raise ConfigError(f"dataset.source.untagged={untagged!r}: use 'error', 'skip' or a domain name {list(DOMAINS)}")
        if on_unpaired not in ("error", "skip"):
            raise ConfigError(f"dataset.source.on_unpaired={on_unpaired!r}: use 'error' or 'skip'")
        self.untagged, self.on_unpaired = untagged, on_unpaired
        self.domain_csv = Path(domain_csv) if domain_csv else None
        self._table: DomainTable | None = None
        self._stats: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ config checks
    def _check_splits(self, splits: dict[str, str | None]) -> dict[str, str | None]:
        unknown = sorted(set(splits) - set(OUR_SPLITS))
        if unknown:
            raise ConfigError(f"dataset.source.splits of '{self.name}': keys {unknown} are not train/val/test")
        for key in ("train", "test"):
            if not splits.get(key):
                raise ConfigError(f"dataset.source.splits.{key} of '{self.name}' must name one of the dataset's splits {list(self.LABELLED_SPLITS)}")
        splits.setdefault("val", None)
        for key, official in splits.items():
            if official is not None and official not in self.LABELLED_SPLITS:
                raise ConfigError(
                    f"dataset.source.splits.{key}={official!r} of '{self.name}': use one of {list(self.LABELLED_SPLITS)} "
                    f"(the dataset's labelled splits) or null for val (carved from train)"
                )
        used = [v for v in splits.values() if v is not None]
        if len(used) != len(set(used)):
            raise ConfigError(
                f"dataset.source.splits of '{self.name}' = {splits}: each official split may serve one purpose only; "
                f"validating on the test split would select models on the test set. Set val: null to carve val from train"
            )
        return splits

    @property
    def has_val_split(self) -> bool:  # type: ignore[override]
        return self.splits.get("val") is not None

    def official_split(self, split: str) -> str | None:
        if split not in OUR_SPLITS:
            raise ConfigError(f"split {split!r} of '{self.name}': use one of {list(OUR_SPLITS)}")
        return self.splits.get(split)

    # ------------------------------------------------------------------ adapter interface
    @abstractmethod
    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        """(images of the official split with their labels, labels that have no image)."""

    def check_root(self) -> None:
        self.require_dir(self.root, f"root of dataset '{self.name}'", self.ROOT_HINT)

    # ------------------------------------------------------------------ scanning
    def table(self) -> DomainTable | None:
        if self.domain_csv is not None and self._table is None:
            self._table = load_domain_csv(self.domain_csv)
        return self._table

    def scan(self, split: str) -> SplitScan | None:
        """Pair and tag one of our splits without applying policies; None when the split is not mapped."""
        official = self.official_split(split)
        if official is None:
            return None
        self.check_root()
        found, orphan_labels = self.find(official)
        table = self.table()
        records, no_label, untagged = [], [], []
        skipped: Counter[str] = Counter()
        for f in sorted(found, key=lambda f: str(f.image)):
            if f.label is None:
                no_label.append(f.image)
                continue
            domain, source = f.domain, f.domain_source
            if domain is None and table is not None:
                domain, source = table.lookup(f.image, self.root), "csv"
            if domain is None:
                untagged.append(f.image)
                if self.untagged in DOMAINS:
                    domain, source = self.untagged, "untagged_default"
                else:
                    skipped["untagged"] += 1
                    continue
            if domain not in DOMAINS:
                raise DataError(f"{f.image}: domain {domain!r} from {source} is not one of {list(DOMAINS)} (adapter bug or bad metadata)")
            extra = {"official_split": official, **f.extra}
            records.append(SampleRecord(image=f.image, label=f.label, dataset=self.name, domain=domain, split=split, domain_source=source or "", extra=extra))
        if no_label:
            skipped["images_without_labels"] = len(no_label)
        return SplitScan(split, official, records, no_label, sorted(orphan_labels), untagged, dict(skipped))

    def records(self, split: str) -> list[SampleRecord]:
        scan = self.scan(split)
        if scan is None:
            return []
        where = f"dataset '{self.name}' split {split} (official '{scan.official}', root {self.root})"
        if (scan.images_without_labels or scan.labels_without_images) and self.on_unpaired == "error":
            parts = []
            if scan.images_without_labels:
                parts.append(f"{len(scan.images_without_labels)} images without labels, e.g. {scan.images_without_labels[0]}")
            if scan.labels_without_images:
                parts.append(f"{len(scan.labels_without_images)} labels without images, e.g. {scan.labels_without_images[0]}")
            raise DataError(
                f"{where}: {'; '.join(parts)}. Run `prove data check dataset=...` for the full list, or set "
                f"dataset.source.on_unpaired=skip to use the complete pairs only (counted in audit.json)"
            )
        if scan.untagged and self.untagged == "error":
            raise DataError(
                f"{where}: {len(scan.untagged)} of {len(scan.untagged) + len(scan.records)} images have no domain tag "
                f"(e.g. {scan.untagged[0]}); give dataset.source.domain_csv=<CSV with columns image,domain>, or set "
                f"dataset.source.untagged=skip to leave them out, or dataset.source.untagged=<domain> to tag them so"
            )
        if not scan.records:
            raise DataError(f"{where}: no labelled images found; check the root ({self.ROOT_HINT}) and the layout in conf/dataset/{self.name}.yaml")
        if scan.skipped:
            log.warning("%s: left out %s", where, scan.skipped)
        self._stats[split] = {
            "official_split": scan.official,
            "images": len(scan.records),
            "domains": scan.counts(),
            "domain_sources": dict(Counter(r.domain_source for r in scan.records)),
            "skipped": scan.skipped,
            "labels_without_images_ignored": len(scan.labels_without_images),
        }
        return scan.records

    def describe(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "adapter": type(self).__name__,
            "root": str(self.root),
            "splits": dict(self.splits),
            "label_mapping": self.label_mapping,
            "domain_csv": str(self.domain_csv) if self.domain_csv else None,
            "untagged": self.untagged,
            "on_unpaired": self.on_unpaired,
            "indexed": self._stats,
        }
        if self._table is not None:
            out["domain_csv_rows_unmatched"] = self._table.unused()
        return out


def index_by(paths: list[Path], key_of) -> dict[str, Path]:  # noqa: ANN001
    """{key: path}; two files with one key is a layout error worth stopping for."""
    out: dict[str, Path] = {}
    for p in paths:
        k = key_of(p)
        if k is None:
            continue
        if k in out:
            raise DataError(f"{p} and {out[k]} map to the same sample '{k}'; remove the duplicate")
        out[k] = p
    return out


def pair(images: dict[str, Path], labels: dict[str, Path], **found_kw: Any) -> tuple[list[Found], list[Path]]:
    """Join images and labels on their key: (Found per image, labels without images)."""
    found = [Found(image=p, label=labels.get(k), **found_kw) for k, p in images.items()]
    orphans = [p for k, p in labels.items() if k not in images]
    return found, orphans
