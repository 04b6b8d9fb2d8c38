"""The stratified layout {root}/{train,test}/{images,labels}/{Dataset}/{domain}/ (SWIFT / old PROVE default)."""

from __future__ import annotations

from pathlib import Path

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sources.base import DatasetSource
from prove_lightning.errors import DataError

IMAGE_EXTS = (".png", ".jpg", ".jpeg")


class StratifiedSource(DatasetSource):
    """Domain = the folder name; the label of ``x.jpg`` is ``labels/.../x.png`` (or any same-stem file)."""

    def __init__(
        self,
        root: str | Path,
        dataset_dir: str,
        name: str | None = None,
        label_mapping: str = "trainids",
        label_suffix: str = "",
        domains: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        self.root = Path(root)
        self.dataset_dir = dataset_dir
        self.name = name or dataset_dir.lower().replace("-", "")
        self.label_mapping = label_mapping
        self.label_suffix = label_suffix
        self.domains = tuple(domains) if domains else DOMAINS

    def records(self, split: str) -> list[SampleRecord]:
        if split == "val":
            return []
        self.require_dir(self.root, f"data root of dataset '{self.name}'", "set paths.data_root (or PROVE_DATA_ROOT) to the folder holding train/ and test/")
        img_root = self.require_dir(
            self.root / split / "images" / self.dataset_dir,
            f"{split} images of dataset '{self.name}'",
            f"expected the stratified layout {{root}}/{split}/images/{self.dataset_dir}/{{domain}}/",
        )
        lab_root = self.root / split / "labels" / self.dataset_dir
        out: list[SampleRecord] = []
        unknown = sorted(p.name for p in img_root.iterdir() if p.is_dir() and p.name not in DOMAINS)
        if unknown:
            raise DataError(f"{img_root}: folders {unknown} are not domain names; rename them to one of {list(DOMAINS)}")
        for domain in self.domains:
            d = img_root / domain
            if not d.is_dir():
                continue
            for img in sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS):
                label = lab_root / domain / f"{img.stem}{self.label_suffix}.png"
                out.append(SampleRecord(image=img, label=label, dataset=self.name, domain=domain, split=split, domain_source="folder"))
        if not out:
            raise DataError(f"{img_root}: no images found in any domain folder; check the dataset root")
        return out
