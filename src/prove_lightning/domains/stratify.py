"""Link a tagged dataset into the stratified layout {out}/{train,test}/{images,labels}/{dataset_dir}/{domain}/.

The S1/S2 protocols read that layout (conf/dataset/*_stratified.yaml, or dataset=stratified with
dataset.source.dataset_dir); the team built it with a separate tagging step, this is that step's second half.
Files are symbolic links to the originals (never copies); labels keep the dataset's own encoding, so the
stratified config names the source's label_mapping. Domains: with ``prefer='native'`` the dataset's own tag
where it has one, else the tag CSV; with ``prefer='csv'`` the CSV decides for every image. A labelled image
with no tag at all stops the command before anything is linked.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.sources.domain_csv import load_domain_csv
from prove_lightning.errors import ConfigError, DataError

SPLITS = ("train", "test")  # the stratified layout's splits; val is carved from train (val: null)


@dataclass
class StratifyReport:
    out: Path
    dataset_dir: str
    counts: dict[str, dict[str, int]]
    untagged: int
    domain_sources: dict[str, int]

    def dataset_overrides(self, label_mapping: str, dataset: str) -> list[str]:
        return [
            "dataset=stratified",
            f"dataset.name={dataset}",
            f"paths.stratified_root={self.out}",
            f"dataset.source.dataset_dir={self.dataset_dir}",
            f"dataset.source.label_mapping={label_mapping}",
        ]


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
        raise DataError(f"{link} exists and is not a link to {target}; two images with one name in one domain folder? (or remove {link.parent})")
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)  # atomic: a reader sees no link or the whole link


def stratify(source: Any, domain_csv: str | Path, out: str | Path, dataset_dir: str, prefer: str = "native") -> StratifyReport:
    """Link every labelled image of the source's train and test splits under its domain folder."""
    if prefer not in ("native", "csv"):
        raise ConfigError(f"--prefer={prefer!r}: use 'native' (the dataset's own tags first) or 'csv' (the tag CSV for every image)")
    table = load_domain_csv(domain_csv)
    out = Path(out).resolve()
    source.check_root()
    counts: dict[str, Counter] = defaultdict(Counter)
    sources: Counter = Counter()
    plan: list[tuple[str, str, Path, Path]] = []
    untagged: list[Path] = []
    for split in SPLITS:
        official = source.splits.get(split)
        if official is None:
            raise ConfigError(f"dataset '{source.name}' maps no official split to {split}; the stratified layout needs train and test")
        found, _ = source.find(official)
        for f in sorted(found, key=lambda f: str(f.image)):
            if f.label is None:
                continue
            tagged = table.lookup(f.image, source.root)
            domain, how = (f.domain, "native") if f.domain and prefer == "native" else (tagged, "csv")
            if domain is None:
                untagged.append(f.image)
                continue
            if domain not in DOMAINS:
                raise DataError(f"{f.image}: domain {domain!r} is not one of {list(DOMAINS)}")
            plan.append((split, domain, f.image, f.label))
            counts[split][domain] += 1
            sources[how] += 1
    if untagged:  # checked before anything is linked
        raise DataError(
            f"{len(untagged)} labelled images of '{source.name}' have no tag in {domain_csv} (nor their own), e.g. {untagged[0]}; "
            f"tag the whole dataset with `prove domains tag dataset=... --out {domain_csv}`"
        )
    for split, domain, image, label in plan:
        _link(image.resolve(), out / split / "images" / dataset_dir / domain / image.name)
        _link(label.resolve(), out / split / "labels" / dataset_dir / domain / f"{image.stem}.png")
    return StratifyReport(out, dataset_dir, {s: dict(sorted(c.items())) for s, c in counts.items()}, 0, dict(sources))
