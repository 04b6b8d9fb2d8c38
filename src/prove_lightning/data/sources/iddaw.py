"""IDD-AW: {train,val}/{FOG,LOWLIGHT,RAIN,SNOW}/{rgb,nir,gtSeg}/{seq}/{frame}_rgb.png.

Masks are what the kit's createLabels_iddaw.py writes next to the polygons, ``gtSeg/{seq}/{frame}_label{idtype}s.png``:
``_labelcsTrainIds.png`` (AutoNUE's csTrainId column: Cityscapes trainIds, identity) is preferred;
``_labellevel3Ids.png`` (26 level-3 classes) is the fallback, mapped with the level3 -> trainId table
(lossy merges, datasets.md §2.4). ``label_type: auto`` uses csTrainIds when the tree has them.
The condition folder is the domain (FOG -> foggy, LOWLIGHT -> night, RAIN -> rainy, SNOW -> snowy; source ``path``).
The public download has train and val only, so our test split is the official val split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from prove_lightning.data.sources.base import Found, PairedSource, index_by, pair
from prove_lightning.errors import ConfigError, DataError

CONDITION_DOMAINS = {"FOG": "foggy", "LOWLIGHT": "night", "RAIN": "rainy", "SNOW": "snowy"}
LABEL_TYPES = {"csTrainId": ("_labelcsTrainIds.png", "trainids"), "level3Id": ("_labellevel3Ids.png", "iddaw_level3ids")}
IMAGE_SUFFIX = "_rgb.png"


class IDDAWSource(PairedSource):
    LABELLED_SPLITS = ("train", "val")
    ROOT_HINT = "set paths.iddaw_root (env PROVE_IDDAW_ROOT) to the folder holding train/ and val/ with FOG, LOWLIGHT, RAIN, SNOW"

    def __init__(
        self,
        root: str | Path,
        name: str = "iddaw",
        label_type: str = "auto",
        conditions: Sequence[str] = tuple(CONDITION_DOMAINS),
        splits: Mapping[str, str | None] | None = None,
        domain_csv: str | Path | None = None,
        untagged: str = "error",
        on_unpaired: str = "error",
    ) -> None:
        if label_type not in ("auto", *LABEL_TYPES):
            raise ConfigError(f"dataset.source.label_type={label_type!r}: use auto, {' or '.join(LABEL_TYPES)}")
        bad = [c for c in conditions if c not in CONDITION_DOMAINS]
        if bad:
            raise ConfigError(f"dataset.source.conditions: {bad} are not IDD-AW conditions {list(CONDITION_DOMAINS)}")
        super().__init__(root, name, splits, domain_csv, untagged, on_unpaired)
        self.label_type, self.conditions = label_type, tuple(conditions)
        self._resolved: str | None = None

    def resolved_label_type(self) -> str:
        if self.label_type != "auto":
            return self.label_type
        if self._resolved is None:
            has_cs = next(self.root.glob(f"*/*/gtSeg/*/*{LABEL_TYPES['csTrainId'][0]}"), None) is not None
            has_l3 = next(self.root.glob(f"*/*/gtSeg/*/*{LABEL_TYPES['level3Id'][0]}"), None) is not None
            self._resolved = "level3Id" if has_l3 and not has_cs else "csTrainId"
        return self._resolved

    @property
    def label_mapping(self) -> str:  # type: ignore[override]
        return LABEL_TYPES[self.resolved_label_type()][1]

    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        split_dir = self.require_dir(self.root / official, f"IDD-AW {official} split", self.ROOT_HINT)
        strange = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and p.name not in CONDITION_DOMAINS)
        if strange:
            raise DataError(f"{split_dir}: unknown condition folder(s) {strange}; IDD-AW has {list(CONDITION_DOMAINS)}")
        ltype = self.resolved_label_type()
        suffix = LABEL_TYPES[ltype][0]
        found_all: list[Found] = []
        orphans_all: list[Path] = []
        for cond in self.conditions:
            rgb = self.require_dir(split_dir / cond / "rgb", f"IDD-AW {cond} images ({official})", f"expected {official}/{cond}/rgb/{{seq}}/{{frame}}{IMAGE_SUFFIX}")
            gt = split_dir / cond / "gtSeg"
            images = index_by(sorted(rgb.glob(f"*/*{IMAGE_SUFFIX}")), lambda p: f"{p.parent.name}/{p.name[: -len(IMAGE_SUFFIX)]}")
            labels = index_by(sorted(gt.glob(f"*/*{suffix}")), lambda p: f"{p.parent.name}/{p.name[: -len(suffix)]}")
            if images and not labels and next(gt.glob("*/*_mask.json"), None) is not None:
                raise DataError(
                    f"{gt}: polygons (*_mask.json) but no *{suffix} masks; generate them with the kit's "
                    f"createLabels_iddaw.py / AutoNUE json2labelImg (--id-type csTrainId)"
                )
            found, orphans = pair(images, labels, domain=CONDITION_DOMAINS[cond], domain_source="path")
            missing = [f for f in found if f.label is None]
            if missing and ltype == "csTrainId":
                other = LABEL_TYPES["level3Id"][0]
                only_l3 = [f for f in missing if (gt / f.image.parent.name / f.image.name.replace(IMAGE_SUFFIX, other)).is_file()]
                if only_l3:
                    raise DataError(
                        f"{gt}: {len(only_l3)} frames have only *{other} masks (e.g. {only_l3[0].image.name}) while others have "
                        f"*{suffix}; regenerate csTrainId masks for all frames (createLabels_iddaw.py --id-type csTrainId) "
                        f"or set dataset.source.label_type=level3Id"
                    )
            for f in found:
                f.extra["condition"] = cond
            found_all += found
            orphans_all += orphans
        return found_all, orphans_all

    def describe(self) -> dict:
        return {**super().describe(), "label_type": self.resolved_label_type() if self.root.is_dir() else self.label_type}
