"""Cityscapes: leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png with gtFine/{split}/{city}/..._gtFine_{labelIds,labelTrainIds}.png.

``label_type: labelIds`` reads the masks every download ships (mapped with the labels.py table);
``labelTrainIds`` reads the files cityscapesScripts' csCreateTrainIdLabelImgs writes (identity).
Test GT is withheld, so our test split is the official val split and val is carved from train by default.
All images are daytime, good/medium weather (dataset overview): domain ``clear_day`` from the dataset,
unless ``domain: null`` lets a domain CSV tag them (e.g. cloudy scenes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.sources.base import Found, PairedSource, index_by, pair
from prove_lightning.errors import ConfigError, DataError

LABEL_MAPPINGS = {"labelIds": "cityscapes_labelids", "labelTrainIds": "trainids"}
IMAGE_SUFFIX = "_leftImg8bit.png"


class CityscapesSource(PairedSource):
    LABELLED_SPLITS = ("train", "val")
    ROOT_HINT = "set paths.cityscapes_root (env PROVE_CITYSCAPES_ROOT) to the folder holding leftImg8bit/ and gtFine/"

    def __init__(
        self,
        root: str | Path,
        name: str = "cityscapes",
        label_type: str = "labelIds",
        domain: str | None = "clear_day",
        splits: Mapping[str, str | None] | None = None,
        domain_csv: str | Path | None = None,
        untagged: str = "error",
        on_unpaired: str = "error",
    ) -> None:
        if label_type not in LABEL_MAPPINGS:
            raise ConfigError(f"dataset.source.label_type={label_type!r}: use one of {list(LABEL_MAPPINGS)}")
        if domain is not None and domain not in DOMAINS:
            raise ConfigError(f"dataset.source.domain={domain!r}: use one of {list(DOMAINS)} or null")
        super().__init__(root, name, splits, domain_csv, untagged, on_unpaired, label_mapping=LABEL_MAPPINGS[label_type])
        self.label_type, self.domain = label_type, domain

    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        img_dir = self.require_dir(self.root / "leftImg8bit" / official, f"Cityscapes images ({official})", self.ROOT_HINT)
        gt_dir = self.require_dir(self.root / "gtFine" / official, f"Cityscapes labels ({official})", "unpack gtFine_trainvaltest.zip next to leftImg8bit/")
        label_suffix = f"_gtFine_{self.label_type}.png"
        images = index_by(sorted(img_dir.glob(f"*/*{IMAGE_SUFFIX}")), lambda p: f"{p.parent.name}/{p.name[: -len(IMAGE_SUFFIX)]}")
        labels = index_by(sorted(gt_dir.glob(f"*/*{label_suffix}")), lambda p: f"{p.parent.name}/{p.name[: -len(label_suffix)]}")
        if images and not labels:
            other = next((t for t in LABEL_MAPPINGS if t != self.label_type and next(gt_dir.glob(f"*/*_gtFine_{t}.png"), None)), None)
            if other:
                fix = "run cityscapesScripts' csCreateTrainIdLabelImgs" if self.label_type == "labelTrainIds" else "generate them"
                raise DataError(
                    f"{gt_dir}: no *{label_suffix} files, but *_gtFine_{other}.png exist; set "
                    f"dataset.source.label_type={other} or {fix}"
                )
        found, orphans = pair(images, labels)
        for f in found:
            f.extra["city"] = f.image.parent.name
            if self.domain is not None:
                f.domain, f.domain_source = self.domain, "dataset"
        return found, orphans

    def describe(self) -> dict:
        return {**super().describe(), "label_type": self.label_type}
