"""BDD10k: images/10k/{train,val,test}/*.jpg with labels/sem_seg/masks/{train,val}/*.png (Cityscapes trainIds).

Root = the ``bdd100k/`` folder of the official zips. The legacy 2018 layout (``seg/images/{split}/*.jpg``,
``seg/labels/{split}/*_train_id.png``) is found too (``layout: auto``).
Domains come from the BDD100K detection attribute JSONs (``attributes``: list of files, joined on the image
name, datasets.md §3 precedence; domain_source ``bdd_attributes``). About a third of the 10K images are
not in 100K or are tagged ``undefined``: the domain CSV tags them, else the ``untagged`` policy decides.
Test masks are not public, so our test split is the official val split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from prove_lightning.data.sources.base import Found, PairedSource, index_by, pair
from prove_lightning.data.sources.bdd_attributes import bdd_domain, load_attributes
from prove_lightning.errors import ConfigError, DataError

LAYOUTS = {
    # layout: (images dir, labels dir, label suffix); {split} filled in
    "2020": ("images/10k/{split}", "labels/sem_seg/masks/{split}", ".png"),
    "2018": ("seg/images/{split}", "seg/labels/{split}", "_train_id.png"),
}


class BDD10kSource(PairedSource):
    LABELLED_SPLITS = ("train", "val")
    ROOT_HINT = "set paths.bdd10k_root (env PROVE_BDD10K_ROOT) to the bdd100k/ folder holding images/10k/ and labels/sem_seg/"

    def __init__(
        self,
        root: str | Path,
        name: str = "bdd10k",
        attributes: Sequence[str | Path] = (),
        attributes_cache: str | Path | None = None,
        layout: str = "auto",
        splits: Mapping[str, str | None] | None = None,
        domain_csv: str | Path | None = None,
        untagged: str = "error",
        on_unpaired: str = "error",
    ) -> None:
        if layout not in ("auto", *LAYOUTS):
            raise ConfigError(f"dataset.source.layout={layout!r}: use auto, {' or '.join(LAYOUTS)}")
        super().__init__(root, name, splits, domain_csv, untagged, on_unpaired, label_mapping="trainids")
        self.attributes = [p if Path(p).is_absolute() else self.root / p for p in map(Path, attributes or ())]
        self.attributes_cache = Path(attributes_cache) if attributes_cache else None
        self.layout = layout
        self._attrs: dict[str, tuple[str, str]] | None = None

    def resolved_layout(self) -> str:
        if self.layout != "auto":
            return self.layout
        if (self.root / "images" / "10k").is_dir():
            return "2020"
        if (self.root / "seg" / "images").is_dir():
            return "2018"
        raise DataError(f"{self.root}: neither images/10k/ (2020 zips) nor seg/images/ (2018 zip) found; {self.ROOT_HINT}")

    def attribute_map(self) -> dict[str, tuple[str, str]]:
        if self._attrs is None:
            self._attrs = load_attributes(self.attributes, self.attributes_cache)
        return self._attrs

    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        img_t, lab_t, suffix = LAYOUTS[self.resolved_layout()]
        img_dir = self.require_dir(self.root / img_t.format(split=official), f"BDD10k images ({official})", self.ROOT_HINT)
        lab_dir = self.require_dir(self.root / lab_t.format(split=official), f"BDD10k masks ({official})", "unpack bdd100k_sem_seg_labels_trainval.zip into the same bdd100k/ folder")
        images = index_by(sorted(img_dir.glob("*.jpg")), lambda p: p.stem)
        labels = index_by(sorted(lab_dir.glob(f"*{suffix}")), lambda p: p.name[: -len(suffix)])
        found, orphans = pair(images, labels)
        attrs = self.attribute_map()
        for f in found:
            wt = attrs.get(f.image.name)
            if wt is not None:
                f.extra.update(weather=wt[0], timeofday=wt[1])
                f.domain = bdd_domain(*wt)
                f.domain_source = "bdd_attributes" if f.domain else None
        return found, orphans

    def describe(self) -> dict:
        return {**super().describe(), "layout": self.resolved_layout() if self.root.is_dir() else self.layout, "attributes": [str(p) for p in self.attributes]}
