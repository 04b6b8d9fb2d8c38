"""Mapillary Vistas: {training,validation}/images/*.jpg with v1.2 labels, palette PNGs whose pixel value is the class id.

Two archive layouts (``layout: auto`` finds which): the v1.1/v1.2 zip has ``{split}/labels/*.png``; the
v2.0 zip has ``{split}/v1.2/labels/*.png`` beside ``v2.0/labels`` and we read its v1.2 labels (no public
v2.0 -> Cityscapes table exists). Labels are read as indices with PIL, never as colours (the old pipeline's
cv2 read turned them into BGR colours). ``label_variant`` picks the 66 -> 19 table: ``strict`` (RobustNet /
HRDA, the DG literature; default), ``rein`` (variant A) or ``prove`` (variant B, the old pipeline).
No weather/time metadata exists: domains come from the domain CSV or the ``untagged`` policy.
Testing labels are not public, so our test split is the official validation split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from prove_lightning.data.sources.base import Found, PairedSource, index_by, pair
from prove_lightning.errors import ConfigError, DataError

LABEL_DIRS = {"v1.2": "labels", "v2.0": "v1.2/labels"}
VARIANTS = ("strict", "rein", "prove")


class MapillarySource(PairedSource):
    LABELLED_SPLITS = ("training", "validation")
    DEFAULT_SPLITS = {"train": "training", "val": None, "test": "validation"}
    ROOT_HINT = "set paths.mapillary_root (env PROVE_MAPILLARY_ROOT) to the unzipped folder holding training/ and validation/"

    def __init__(
        self,
        root: str | Path,
        name: str = "mapillary",
        label_variant: str = "strict",
        layout: str = "auto",
        splits: Mapping[str, str | None] | None = None,
        domain_csv: str | Path | None = None,
        untagged: str = "error",
        on_unpaired: str = "error",
    ) -> None:
        if label_variant not in VARIANTS:
            raise ConfigError(f"dataset.label_variant={label_variant!r}: use one of {list(VARIANTS)} (datasets.md §2.3)")
        if layout not in ("auto", *LABEL_DIRS):
            raise ConfigError(f"dataset.source.layout={layout!r}: use auto, v1.2 or v2.0")
        super().__init__(root, name, splits, domain_csv, untagged, on_unpaired, label_mapping=f"mapillary_v12_{label_variant}")
        self.label_variant, self.layout = label_variant, layout

    def resolved_layout(self, official: str) -> str:
        if self.layout != "auto":
            return self.layout
        if (self.root / official / "v1.2" / "labels").is_dir():
            return "v2.0"
        if (self.root / official / "labels").is_dir():
            return "v1.2"
        if (self.root / official / "v2.0" / "labels").is_dir():
            raise DataError(
                f"{self.root / official}: only v2.0/labels (124 classes) found; no public v2.0 -> Cityscapes table exists. "
                f"Use the v1.2/labels folder the v2.0 zip ships (re-extract it), or the v1.2 zip"
            )
        raise DataError(f"{self.root / official}: no labels/ (v1.2 zip) or v1.2/labels/ (v2.0 zip) folder; {self.ROOT_HINT}")

    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        split_dir = self.require_dir(self.root / official, f"Mapillary {official} split", self.ROOT_HINT)
        img_dir = self.require_dir(split_dir / "images", f"Mapillary {official} images", self.ROOT_HINT)
        layout = self.resolved_layout(official)
        lab_dir = self.require_dir(split_dir / LABEL_DIRS[layout], f"Mapillary {official} v1.2 labels", f"layout {layout} keeps them in {official}/{LABEL_DIRS[layout]}/")
        images = index_by(sorted(img_dir.glob("*.jpg")), lambda p: p.stem)
        labels = index_by(sorted(lab_dir.glob("*.png")), lambda p: p.stem)
        found, orphans = pair(images, labels)
        for f in found:
            f.extra["layout"] = layout
        return found, orphans

    def describe(self) -> dict:
        return {**super().describe(), "label_variant": self.label_variant, "layout": self.layout}
