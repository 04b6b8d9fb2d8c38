"""ACDC: rgb_anon/{fog,night,rain,snow}/{split}/{GOPRxxxx}/*_rgb_anon.png with gt/{cond}/{split}/{seq}/*_gt_{labelTrainIds,labelIds}.png.

The condition folder is the domain (fog -> foggy, night -> night, rain -> rainy, snow -> snowy; domain_source
``path``). The ``*_ref`` folders hold normal-condition reference images without semantic GT and are never
used. Test GT is withheld (ACDC server), so our test split is the official val split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from prove_lightning.data.sources.base import Found, PairedSource, index_by, pair
from prove_lightning.errors import ConfigError, DataError

CONDITION_DOMAINS = {"fog": "foggy", "night": "night", "rain": "rainy", "snow": "snowy"}
LABEL_MAPPINGS = {"labelTrainIds": "trainids", "labelIds": "cityscapes_labelids"}
IMAGE_SUFFIX = "_rgb_anon.png"


class ACDCSource(PairedSource):
    LABELLED_SPLITS = ("train", "val")
    ROOT_HINT = "set paths.acdc_root (env PROVE_ACDC_ROOT) to the folder holding rgb_anon/ and gt/"

    def __init__(
        self,
        root: str | Path,
        name: str = "acdc",
        label_type: str = "labelTrainIds",
        conditions: Sequence[str] = tuple(CONDITION_DOMAINS),
        splits: Mapping[str, str | None] | None = None,
        domain_csv: str | Path | None = None,
        untagged: str = "error",
        on_unpaired: str = "error",
    ) -> None:
        if label_type not in LABEL_MAPPINGS:
            raise ConfigError(f"dataset.source.label_type={label_type!r}: use one of {list(LABEL_MAPPINGS)}")
        bad = [c for c in conditions if c not in CONDITION_DOMAINS]
        if bad:
            raise ConfigError(f"dataset.source.conditions: {bad} are not ACDC conditions {list(CONDITION_DOMAINS)}")
        super().__init__(root, name, splits, domain_csv, untagged, on_unpaired, label_mapping=LABEL_MAPPINGS[label_type])
        self.label_type, self.conditions = label_type, tuple(conditions)

    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        rgb = self.require_dir(self.root / "rgb_anon", "ACDC images", self.ROOT_HINT)
        gt = self.require_dir(self.root / "gt", "ACDC labels", "unpack gt_trainval.zip next to rgb_anon/")
        strange = sorted(p.name for p in rgb.iterdir() if p.is_dir() and p.name not in CONDITION_DOMAINS)
        if strange:
            raise DataError(f"{rgb}: unknown condition folder(s) {strange}; ACDC has {list(CONDITION_DOMAINS)}")
        label_suffix = f"_gt_{self.label_type}.png"
        found_all: list[Found] = []
        orphans_all: list[Path] = []
        for cond in self.conditions:
            img_dir = self.require_dir(rgb / cond / official, f"ACDC {cond} images ({official})", f"expected rgb_anon/{cond}/{official}/GOPRxxxx/*{IMAGE_SUFFIX}")
            gt_dir = gt / cond / official
            images = index_by(sorted(img_dir.glob(f"*/*{IMAGE_SUFFIX}")), lambda p: f"{p.parent.name}/{p.name[: -len(IMAGE_SUFFIX)]}")
            labels = index_by(sorted(gt_dir.glob(f"*/*{label_suffix}")), lambda p: f"{p.parent.name}/{p.name[: -len(label_suffix)]}")
            if images and not labels and next(gt_dir.glob("*/*_gt_*.png"), None) is not None:
                raise DataError(f"{gt_dir}: no *{label_suffix} files but other *_gt_*.png exist; set dataset.source.label_type to one of {list(LABEL_MAPPINGS)} that is present")
            found, orphans = pair(images, labels, domain=CONDITION_DOMAINS[cond], domain_source="path")
            for f in found:
                f.extra["condition"] = cond
            found_all += found
            orphans_all += orphans
        return found_all, orphans_all

    def describe(self) -> dict:
        return {**super().describe(), "label_type": self.label_type, "conditions": list(self.conditions)}
