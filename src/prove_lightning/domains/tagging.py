"""Tag every image of a dataset and write the ``domain_csv`` its adapter reads (``image,domain,confidence,tagger``).

The images are those the dataset's adapter finds in each official split it maps (``source.find``), labelled or
not, whatever their own domain metadata says: the CSV covers the whole dataset. The ``image`` column holds the
path relative to the dataset root (the adapters match relative paths, names and stems; domain_csv.py).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from prove_lightning.data.domains import DOMAINS
from prove_lightning.errors import ConfigError
from prove_lightning.io import atomic_write_text

TAGGERS = ("rules", "classifier", "clip")
COLUMNS = ("image", "domain", "confidence", "tagger")


@dataclass(frozen=True)
class Item:
    image: Path
    split: str
    native: str | None  # the dataset's own domain tag (folder, attributes), if any


@dataclass(frozen=True)
class Tag:
    item: Item
    domain: str
    confidence: float


def build_tagger(kind: str, settings: Mapping[str, Any], model: str | None = None):  # noqa: ANN201
    """A tagger from conf/domains/<kind>.yaml's settings; ``model`` is the classifier file or the CLIP folder."""
    if kind == "rules":
        from prove_lightning.domains.rules import RulesTagger

        return RulesTagger(settings["rules"], settings.get("default", "clear_day"), settings.get("default_confidence", 0.4))
    if kind == "classifier":
        from prove_lightning.domains.classifier import ClassifierTagger

        return ClassifierTagger.load(model or settings.get("model"))
    if kind == "clip":
        from prove_lightning.domains.clip import ClipTagger

        return ClipTagger(model or settings.get("model_path"), settings["prompts"], int(settings.get("batch_size", 32)), str(settings.get("device", "cpu")))
    raise ConfigError(f"--tagger={kind!r}: use one of {list(TAGGERS)}")


def dataset_images(source: Any, splits: Iterable[str] = ("train", "val", "test")) -> list[Item]:
    """Every image of the official splits the source maps (each official split once), in a stable order."""
    source.check_root()
    seen: set[str] = set()
    items: list[Item] = []
    for split in splits:
        official = source.splits.get(split)
        if official is None or official in seen:
            continue
        seen.add(official)
        found, _ = source.find(official)
        items += [Item(f.image, split, f.domain) for f in sorted(found, key=lambda f: str(f.image))]
    if not items:
        raise ConfigError(f"dataset '{source.name}' at {source.root}: no images found to tag; check the root and layout (`prove data check`)")
    return items


def tag_items(tagger: Any, items: list[Item], progress: Callable[[int], None] | None = None, batch: int = 16) -> list[Tag]:
    out: list[Tag] = []
    for i in range(0, len(items), batch):
        part = items[i : i + batch]
        preds = tagger.predict_batch([tagger.read_image(it.image) for it in part])
        out += [Tag(it, d, c) for it, (d, c) in zip(part, preds)]
        if progress is not None:
            progress(len(part))
    return out


def csv_key(image: Path, root: Path) -> str:
    try:
        return image.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(image)


def write_domain_csv(path: str | Path, tags: list[Tag], root: Path, tagger: str) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for t in tags:
        w.writerow([csv_key(t.item.image, root), t.domain, f"{t.confidence:.4f}", tagger])
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def summary(tags: list[Tag]) -> dict[str, dict[str, Any]]:
    """Per domain: images, mean confidence, and agreement with the dataset's own tags where it has them."""
    out: dict[str, dict[str, Any]] = {}
    by = Counter(t.domain for t in tags)
    for d in DOMAINS:
        mine = [t for t in tags if t.domain == d]
        if not mine:
            continue
        native = [t for t in mine if t.item.native]
        out[d] = {
            "images": by[d],
            "mean_confidence": round(sum(t.confidence for t in mine) / len(mine), 3),
            "native_agree": f"{sum(t.item.native == d for t in native)}/{len(native)}" if native else "-",
        }
    return out
