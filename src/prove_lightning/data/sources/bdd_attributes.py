"""BDD100K frame attributes (weather, timeofday) -> our domains, read from the detection label JSONs.

The 10K segmentation images carry no tags; the 100K detection files (``labels/bdd100k_labels_images_{train,val}
.json`` of 2018 or ``labels/det_20/det_{train,val}.json``) have them per frame name, for part of the 10K set.
Those files are large (about a gigabyte), so they are streamed one frame at a time with the standard library's
``raw_decode`` (no extra dependency) and the extracted ``name -> (weather, timeofday)`` map is cached.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

from prove_lightning.errors import DataError
from prove_lightning.io import atomic_write_json

WEATHER = ("clear", "overcast", "partly cloudy", "rainy", "snowy", "foggy", "undefined")
TIMEOFDAY = ("daytime", "night", "dawn/dusk", "undefined")


def bdd_domain(weather: str | None, timeofday: str | None) -> str | None:
    """datasets.md §3 precedence: night; foggy; snowy; rainy; dawn/dusk; overcast|partly cloudy -> cloudy; clear+daytime."""
    if timeofday == "night":
        return "night"
    for w, d in (("foggy", "foggy"), ("snowy", "snowy"), ("rainy", "rainy")):
        if weather == w:
            return d
    if timeofday == "dawn/dusk":
        return "dawn_dusk"
    if weather in ("overcast", "partly cloudy"):
        return "cloudy"
    if weather == "clear" and timeofday == "daytime":
        return "clear_day"
    return None  # undefined weather or time: left to the domain CSV / untagged policy


def _iter_frames(path: Path, chunk: int = 1 << 22) -> Iterator[dict]:
    """Frames of a JSON list (or of a {"frames": [...]} object), one at a time."""
    dec = json.JSONDecoder()
    with path.open("r", encoding="utf-8") as fh:
        head = fh.read(chunk)
        start = head.lstrip()[:1]
        if start == "{":  # a scalabel dataset object: loaded whole
            fh.seek(0)
            try:
                obj = json.load(fh)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: not valid JSON ({e}); pass the BDD100K detection label file") from None
            frames = obj.get("frames")
            if not isinstance(frames, list):
                raise DataError(f"{path}: expected a list of frames or an object with 'frames'; is this a BDD100K label file?")
            yield from frames
            return
        if start != "[":
            raise DataError(f"{path}: expected a JSON list of frames (BDD100K detection labels), found {head.lstrip()[:20]!r}")
        buf, pos, eof = head, head.index("[") + 1, False
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                pos += 1
            if pos < len(buf) and buf[pos] == "]":
                return
            try:
                if pos >= len(buf):
                    raise json.JSONDecodeError("end of buffer", buf, pos)
                obj, end = dec.raw_decode(buf, pos)
            except json.JSONDecodeError as e:
                if eof:
                    raise DataError(f"{path}: not valid JSON near character {e.pos} of a frame ({e.msg}); re-extract the file") from None
                more = fh.read(chunk)  # the frame continues in the next chunk
                eof = not more
                buf, pos = buf[pos:] + more, 0
                continue
            yield obj
            pos = end


def parse_attributes(path: Path) -> dict[str, tuple[str, str]]:
    """{frame name: (weather, timeofday)}; unknown attribute values are errors naming the frame."""
    out: dict[str, tuple[str, str]] = {}
    for n, fr in enumerate(_iter_frames(path)):
        if not isinstance(fr, dict) or "name" not in fr:
            raise DataError(f"{path}: frame #{n} has no 'name'; is this a BDD100K detection label file?")
        attrs = fr.get("attributes") or {}
        w, t = attrs.get("weather", "undefined"), attrs.get("timeofday", "undefined")
        if w not in WEATHER or t not in TIMEOFDAY:
            raise DataError(f"{path}: frame {fr['name']} has weather={w!r}, timeofday={t!r}; known: weather {list(WEATHER)}, timeofday {list(TIMEOFDAY)}")
        out[Path(fr["name"]).name] = (w, t)
    return out


def load_attributes(paths: list[Path], cache_dir: Path | None = None) -> dict[str, tuple[str, str]]:
    """Merge several attribute files; the first file that names a frame wins. Cached per file (path, size, mtime)."""
    merged: dict[str, tuple[str, str]] = {}
    for path in paths:
        if not path.is_file():
            raise DataError(f"BDD100K attribute file not found: {path}; fix dataset.source.attributes (or set it to [])")
        st = path.stat()
        key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
        cached = cache_dir / f"bdd_attributes_{key}.json" if cache_dir else None
        if cached is not None and cached.is_file():
            attrs = {k: tuple(v) for k, v in json.loads(cached.read_text()).items()}
        else:
            attrs = parse_attributes(path)
            if cached is not None:
                atomic_write_json(cached, {k: list(v) for k, v in attrs.items()})
        for k, v in attrs.items():
            merged.setdefault(k, v)  # type: ignore[arg-type]
    return merged
