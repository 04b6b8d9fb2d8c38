"""OUTSIDE15k: the ADE20K-style ``.odgt`` lists outsideNet trains from (no public download exists).

Each line of ``{root}/outside15k_{train,val}.odgt`` is a JSON object ``{"fpath_img": ..., "fpath_segm": ...,
"width": W, "height": H}`` with paths relative to the root (outsideNet's ``root_dataset``). Masks hold the 24
class ids (0 = unlabeled) in one channel; a 3-channel copy is read only when its channels agree. The
24 -> 19 table is the old pipeline's (the only public one; datasets.md §2.5). The split is outsideNet's:
our test split is its val list and val is carved from train. No domain metadata: use the domain CSV.
The folder ("stratified") layout of the old pipeline is ``dataset=outside15k_stratified``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from prove_lightning.data.sources.base import Found, PairedSource
from prove_lightning.errors import DataError


class Outside15kSource(PairedSource):
    LABELLED_SPLITS = ("train", "val")
    ROOT_HINT = "set paths.outside15k_root (env PROVE_OUTSIDE15K_ROOT) to the folder holding the .odgt lists"

    def __init__(
        self,
        root: str | Path,
        name: str = "outside15k",
        odgt: Mapping[str, str] | None = None,
        splits: Mapping[str, str | None] | None = None,
        domain_csv: str | Path | None = None,
        untagged: str = "error",
        on_unpaired: str = "error",
    ) -> None:
        super().__init__(root, name, splits, domain_csv, untagged, on_unpaired, label_mapping="outside15k")
        self.odgt = dict(odgt or {"train": "outside15k_train.odgt", "val": "outside15k_val.odgt"})

    def find(self, official: str) -> tuple[list[Found], list[Path]]:
        if official not in self.odgt:
            raise DataError(f"dataset.source.odgt has no list for split '{official}' (has {sorted(self.odgt)})")
        lst = self.root / self.odgt[official]
        if not lst.is_file():
            raise DataError(f"OUTSIDE15k list not found: {lst}; {self.ROOT_HINT}, or set dataset.source.odgt.{official}")
        found: list[Found] = []
        orphans: list[Path] = []
        seen: set[Path] = set()
        for n, line in enumerate(lst.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                img, seg = self.root / entry["fpath_img"], self.root / entry["fpath_segm"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise DataError(f"{lst}:{n}: not an odgt entry ({type(e).__name__}: {e}); each line must be a JSON object with fpath_img and fpath_segm") from None
            if img in seen:
                raise DataError(f"{lst}:{n}: {img} is listed twice; remove the duplicate line")
            seen.add(img)
            if not img.is_file():
                if not seg.is_file():
                    raise DataError(f"{lst}:{n}: neither {img} nor {seg} exists; is the root right? ({self.ROOT_HINT})")
                orphans.append(seg)
                continue
            size = (entry.get("width"), entry.get("height"))
            found.append(Found(image=img, label=seg if seg.is_file() else None, extra={"odgt_size": size, "odgt_line": n}))
        return found, orphans

    def describe(self) -> dict:
        return {**super().describe(), "odgt": self.odgt}
