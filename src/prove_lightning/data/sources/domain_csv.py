"""Domain tags from a user CSV (columns ``image,domain``) for datasets without weather/time metadata.

The ``image`` column may hold the absolute path, the path relative to the dataset root, the file name or the
file stem; a record is matched in that order. Tags are checked against the seven domain names, so a CSV
written with ``fog`` or ``rain`` fails with the name to use instead of silently tagging nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prove_lightning.data.domains import DOMAINS
from prove_lightning.errors import DataError

#: common spellings people (and older tools) use, to make the error message say what to write instead
ALIASES = {"fog": "foggy", "rain": "rainy", "snow": "snowy", "clear": "clear_day", "day": "clear_day", "dusk": "dawn_dusk", "dawn": "dawn_dusk", "lowlight": "night", "overcast": "cloudy", "clouds": "cloudy"}


@dataclass
class DomainTable:
    """Look-up of a CSV's tags by absolute path, relative path, file name and stem."""

    path: Path
    tags: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def lookup(self, image: Path, root: Path) -> str | None:
        keys = [str(image)]
        try:
            keys.append(image.relative_to(root).as_posix())
        except ValueError:
            pass
        keys += [image.name, image.stem]
        for k in keys:
            if k in self.tags:
                self.used.add(k)
                return self.tags[k]
        return None

    def unused(self) -> int:
        """Rows that matched no image seen so far (a CSV for another dataset or split shows up here)."""
        return len({k for k in self.tags if k not in self.used})


def load_domain_csv(path: str | Path) -> DomainTable:
    """Read ``image,domain`` rows; unknown domain names and conflicting duplicates are errors naming the row."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"domain CSV not found: {path}; set dataset.source.domain_csv to a CSV with columns image,domain (or null)")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read the domain CSV ({e}); it needs a header line 'image,domain'") from None
    missing = [c for c in ("image", "domain") if c not in df.columns]
    if missing:
        raise DataError(f"{path}: domain CSV lacks column(s) {missing} (has {list(df.columns)}); the header must be 'image,domain'")
    table = DomainTable(path=path)
    for i, (img, dom) in enumerate(zip(df["image"].str.strip(), df["domain"].str.strip())):
        line = i + 2  # 1-based, after the header
        if dom not in DOMAINS:
            hint = f"; write '{ALIASES[dom.lower()]}'" if dom.lower() in ALIASES else ""
            raise DataError(f"{path}:{line}: '{dom}' is not a domain name (use one of {list(DOMAINS)}){hint}")
        if not img:
            raise DataError(f"{path}:{line}: empty image column")
        key = img.replace("\\", "/")
        prev = table.tags.get(key)
        if prev is not None and prev != dom:
            raise DataError(f"{path}:{line}: image '{img}' is tagged both '{prev}' and '{dom}'; keep one row per image")
        table.tags[key] = dom
    return table
