"""The stratified layout {root}/{train,test}/{images,labels}/{Dataset}/{domain}/ (SWIFT / the old pipeline's default).

The domain is the folder name (domain_source ``folder``). The label of image ``{stem}{image_suffix}.{jpg,png}``
is ``{stem}{label_suffix}.png`` or, failing that, ``{stem}.png`` in the same domain folder of labels/, so
trees whose label names differ from the image names (ACDC's ``_rgb_anon`` / ``_gt_labelIds``) pair too.
Labels keep their dataset's own encoding: ``label_mapping`` names the table (conf/dataset/*_stratified.yaml).
SWIFT's tree has no val split: the datamodule carves one from train; test is the test folder, every domain.
A tree with its own ``val/`` folder is used with ``splits: {train: train, val: val, test: test}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.sources.base import Found, PairedSource, index_by, pair
from prove_lightning.errors import ConfigError, DataError

IMAGE_EXTS = (".png", ".jpg", ".jpeg")


def _strip(stem: str, suffix: str) -> str:
    return stem[: -len(suffix)] if suffix and stem.endswith(suffix) else stem


class StratifiedSource(PairedSource):
    """Any dataset in the stratified layout; ``dataset_dir`` is its folder name (BDD10k, IDD-AW, ...)."""

    LABELLED_SPLITS = ("train", "val", "test")
    DEFAULT_SPLITS = {"train": "train", "val": None, "test": "test"}
    ROOT_HINT = "set paths.stratified_root (env PROVE_STRATIFIED_ROOT, default ${paths.data_root}/FINAL_SPLITS) to the folder holding train/ and test/"

    def __init__(
        self,
        root: str | Path,
        dataset_dir: str,
        name: str | None = None,
        label_mapping: str = "trainids",
        label_suffix: str = "",
        image_suffix: str = "",
        domains: Sequence[str] | None = None,
        splits: Mapping[str, str | None] | None = None,
        on_unpaired: str = "error",
    ) -> None:
        super().__init__(root, name or dataset_dir.lower().replace("-", ""), splits, None, "error", on_unpaired, label_mapping=label_mapping)
        self.dataset_dir = dataset_dir
        self.label_suffix, self.image_suffix = label_suffix, image_suffix
        bad = [d for d in domains or () if d not in DOMAINS]
        if bad:
            raise ConfigError(f"dataset.source.domains: {bad} are not domain names {list(DOMAINS)}")
        self.domains = tuple(domains) if domains else DOMAINS

    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        img_root = self.require_dir(
            self.root / official / "images" / self.dataset_dir,
            f"{official} images of dataset '{self.name}'",
            f"expected the stratified layout {{root}}/{official}/images/{self.dataset_dir}/{{domain}}/; {self.ROOT_HINT}",
        )
        lab_root = self.root / official / "labels" / self.dataset_dir
        for folder in (img_root, lab_root):
            unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in DOMAINS) if folder.is_dir() else []
            if unknown:
                raise DataError(f"{folder}: folders {unknown} are not domain names; rename them to one of {list(DOMAINS)}")
        found_all: list[Found] = []
        orphans_all: list[Path] = []
        for domain in self.domains:
            d = img_root / domain
            if not d.is_dir():
                continue
            images = index_by(sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS), lambda p: _strip(p.stem, self.image_suffix))
            ld = lab_root / domain
            labels = index_by(sorted(ld.glob("*.png")), lambda p: _strip(p.stem, self.label_suffix)) if ld.is_dir() else {}
            found, orphans = pair(images, labels, domain=domain, domain_source="folder")
            found_all += found
            orphans_all += orphans
        return found_all, orphans_all

    def describe(self) -> dict:
        return {**super().describe(), "layout": "stratified", "dataset_dir": self.dataset_dir}
