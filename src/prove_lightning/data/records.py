"""The one record type every dataset source and manifest produces."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SampleRecord:
    """One image with its label; ``generated`` rows point at a translated image and reuse the original's label."""

    image: Path
    label: Path
    dataset: str
    domain: str
    split: str
    domain_source: str = "folder"
    generated: bool = False
    method: str | None = None
    original: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("image", "label", "original"):
            if d[k] is not None:
                d[k] = str(d[k])
        return d
