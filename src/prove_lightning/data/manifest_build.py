"""Build a manifest from a folder of generated images (the code path of `prove manifest build` and of the
built-in generators).

Layouts (as generators write them; ``auto`` detects which):

    domain_dataset   <gen_dir>/<target>/<Dataset>/**/<name>.<ext>
    dataset_domain   <gen_dir>/<Dataset>/<target>/**/<name>.<ext>
    flat             <gen_dir>/<target>/**/<name>.<ext>          (one dataset: the named one)

``<target>`` is the raw target-domain name (normalised through manifest.domain_aliases). Each image is
matched to the training image of the named dataset with the same stem, after removing the endings in
manifest.stem_suffixes, a ``_<target>`` ending and a ``<Dataset>_`` prefix. Two training images with
that stem make the match ambiguous, which is an error. Rows of other datasets already in the manifest
are kept, so one manifest per method folder can hold several datasets.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from prove_lightning.data.manifest import MANIFEST_COLUMNS, DomainNormalizer, ManifestOptions, abspath, dataset_key, read_manifest_table
from prove_lightning.data.records import SampleRecord
from prove_lightning.errors import ConfigError, DataError
from prove_lightning.io import atomic_path, atomic_write_json

log = logging.getLogger(__name__)

LAYOUTS = ("auto", "domain_dataset", "dataset_domain", "flat")
GEN_EXTS = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    raw_domain: str
    dataset_folder: str | None  # None in the flat layout


def _subdirs(p: Path) -> list[Path]:
    return sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))


def _images(p: Path) -> list[Path]:
    return sorted(f for f in p.rglob("*") if f.suffix.lower() in GEN_EXTS and f.is_file() and not f.name.startswith("."))


def detect_layout(gen_dir: Path, normalizer: DomainNormalizer, dataset_keys: set[str]) -> str:
    """dataset_domain if a first-level folder is a dataset, domain_dataset if a second-level one is, else flat."""
    top = _subdirs(gen_dir)
    if any(dataset_key(d.name) in dataset_keys for d in top):
        return "dataset_domain"
    domain_dirs = [d for d in top if normalizer(d.name) is not None]
    if domain_dirs:
        return "domain_dataset" if any(dataset_key(s.name) in dataset_keys for d in domain_dirs for s in _subdirs(d)) else "flat"
    raise DataError(
        f"{gen_dir}: cannot tell the layout: no first-level folder is a domain name or the dataset "
        f"(found {[d.name for d in top][:10]}); pass --layout {'|'.join(LAYOUTS[1:])}"
    )


def scan(gen_dir: Path, layout: str, normalizer: DomainNormalizer, dataset_keys: set[str]) -> tuple[list[GeneratedFile], str, list[str]]:
    """All generated images with their raw target and dataset folder; also files lying outside the layout."""
    if not gen_dir.is_dir():
        raise DataError(f"generated-images folder not found: {gen_dir}; generate the images first or fix the path")
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout '{layout}'; use one of {list(LAYOUTS)}")
    if layout == "auto":
        layout = detect_layout(gen_dir, normalizer, dataset_keys)
    stray = [str(f) for f in sorted(gen_dir.iterdir()) if f.is_file() and f.suffix.lower() in GEN_EXTS]
    files: list[GeneratedFile] = []
    for a in _subdirs(gen_dir):
        if layout == "flat":
            files += [GeneratedFile(f, a.name, None) for f in _images(a)]
            continue
        stray += [str(f) for f in sorted(a.iterdir()) if f.is_file() and f.suffix.lower() in GEN_EXTS]
        for b in _subdirs(a):
            domain, ds = (a.name, b.name) if layout == "domain_dataset" else (b.name, a.name)
            files += [GeneratedFile(f, domain, ds) for f in _images(b)]
    return files, layout, stray


def stem_candidates(stem: str, raw_domain: str, suffixes: Sequence[str], prefixes: Sequence[str]) -> list[str]:
    """The stem, then the stem with generator endings / a domain ending / a dataset prefix removed."""
    out = [stem]
    s = stem
    endings = [*suffixes, f"_{raw_domain}", f"-{raw_domain}"]
    changed = True
    while changed:
        changed = False
        for suf in endings:
            if suf and s.lower().endswith(suf.lower()) and len(s) > len(suf):
                s = s[: -len(suf)]
                out.append(s)
                changed = True
    for pre in prefixes:
        for c in list(out):
            if c.lower().startswith(pre.lower() + "_") and len(c) > len(pre) + 1:
                out.append(c[len(pre) + 1 :])
    return list(dict.fromkeys(out))


def build_manifest(
    gen_dir: str | os.PathLike,
    *,
    method: str,
    dataset: str,
    records: Sequence[SampleRecord],
    options: ManifestOptions,
    dataset_aliases: Iterable[str] = (),
    layout: str = "auto",
    output: str | os.PathLike | None = None,
    progress: bool = True,
    write: bool = True,
) -> dict[str, Any]:
    """Scan, match by stem, write ``manifest.csv`` (+ a JSON summary) and return the summary."""
    gen_dir = Path(gen_dir)
    out = Path(output) if output else gen_dir / "manifest.csv"
    normalizer = DomainNormalizer(options.domain_aliases, options.target_separators)
    aliases = [dataset, *dataset_aliases]
    keys = {dataset_key(a) for a in aliases}
    files, layout, stray = scan(gen_dir, layout, normalizer, keys | {dataset_key(d) for d in options.dataset_folders})
    by_stem: dict[str, list[SampleRecord]] = defaultdict(list)
    for r in records:
        by_stem[Path(r.image).stem].append(r)

    rows: list[dict[str, str]] = []
    unmatched: list[dict[str, str]] = [{"path": p, "reason": "image outside the layout's folders"} for p in stray]
    other: Counter = Counter()
    per_domain: dict[str, Counter] = defaultdict(Counter)
    raw_map: dict[str, str | None] = {}
    for f in _progress(files, progress, f"matching {gen_dir.name}"):
        if f.dataset_folder is not None and dataset_key(f.dataset_folder) not in keys:
            other[f.dataset_folder] += 1
            continue
        domain = raw_map.setdefault(f.raw_domain, normalizer(f.raw_domain))
        if domain is None:
            unmatched.append({"path": str(f.path), "reason": f"unknown domain folder '{f.raw_domain}' (add it to manifest.domain_aliases)"})
            per_domain[f"?{f.raw_domain}"]["unmatched"] += 1
            continue
        hits: list[SampleRecord] = []
        for cand in stem_candidates(f.path.stem, f.raw_domain, options.stem_suffixes, aliases):
            hits = by_stem.get(cand, [])
            if hits:
                break
        if len(hits) > 1:
            raise DataError(
                f"{f.path}: its stem matches {len(hits)} training images of dataset '{dataset}' "
                f"({', '.join(str(h.image) for h in hits[:4])}); the match is ambiguous: give generated files unique original stems"
            )
        if not hits:
            unmatched.append({"path": str(f.path), "reason": f"no training image of '{dataset}' with this stem"})
            per_domain[domain]["unmatched"] += 1
            continue
        orig = hits[0]
        per_domain[domain]["matched"] += 1
        rows.append(
            {
                "gen_path": _rel_if_inside(f.path, out.parent),
                "original_path": abspath(orig.image),
                "label_path": abspath(orig.label),
                "dataset": dataset,
                "domain": domain,
                "target_domain": f.raw_domain,
                "method": method,
            }
        )
    rows.sort(key=lambda r: r["gen_path"])
    kept_other = _other_dataset_rows(out, keys) if write else []
    summary = {
        "method": method,
        "generated_dir": str(gen_dir),
        "manifest": str(out),
        "dataset": dataset,
        "layout": layout,
        "files_total": len(files) + len(stray),
        "matched": len(rows),
        "unmatched": len(unmatched),
        "files_of_other_datasets": dict(other),
        "rows_kept_from_other_datasets": len(kept_other),
        "raw_target_domains": {k: v for k, v in sorted(raw_map.items())},
        "per_domain": {k: dict(v) for k, v in sorted(per_domain.items())},
        "per_dataset": {dataset: {"matched": len(rows), "unmatched": len(unmatched)}, **{k: {"skipped (other dataset)": v} for k, v in other.items()}},
        "unmatched_files": unmatched,
    }
    if write:
        atomic_write_json(summary_path(out, dataset), summary)
        if not rows:
            reasons = Counter(u["reason"] for u in unmatched)
            raise DataError(
                f"{gen_dir}: no generated image matched a training image of '{dataset}' ({len(files)} files; "
                f"{dict(reasons.most_common(3))}, other datasets: {dict(other)}); manifest not written, see {summary_path(out, dataset)}"
            )
        _write_csv(out, kept_other + rows)
    return summary


def summary_path(manifest: Path, dataset: str) -> Path:
    return manifest.with_name(f"{manifest.stem}.summary.{dataset}.json")


def _rel_if_inside(p: Path, base: Path) -> str:
    a, b = abspath(p), abspath(base)
    return os.path.relpath(a, b) if a.startswith(b + os.sep) else a


def _other_dataset_rows(out: Path, keys: set[str]) -> list[dict[str, str]]:
    if not out.is_file():
        return []
    try:
        df = read_manifest_table(out)
    except DataError as e:
        log.warning("replacing unreadable manifest %s (%s)", out, e)
        return []
    keep = df[~df["dataset"].map(dataset_key).isin(keys)]
    return keep[list(MANIFEST_COLUMNS)].to_dict("records")


def _write_csv(out: Path, rows: list[dict[str, str]]) -> None:
    import pandas as pd

    with atomic_path(out, suffix=".csv") as tmp:
        pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(tmp, index=False)


def _progress(items: list, enabled: bool, label: str):  # noqa: ANN202
    if not enabled:
        return items
    from rich.progress import track

    return track(items, description=label, transient=True)


def print_summary(summary: dict[str, Any]) -> None:
    """Counts per domain and dataset, and the unmatched files, as rich tables."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"{summary['method']} -> {summary['manifest']} ({summary['layout']} layout)")
    for c in ("domain", "raw names", "matched", "unmatched"):
        t.add_column(c, justify="left" if c != "matched" and c != "unmatched" else "right")
    raws: dict[str, list[str]] = defaultdict(list)
    for raw, dom in summary["raw_target_domains"].items():
        raws[dom or f"?{raw}"].append(raw)
    for dom, c in summary["per_domain"].items():
        t.add_row(dom, ", ".join(raws.get(dom, [])), str(c.get("matched", 0)), str(c.get("unmatched", 0)))
    t.add_row("all", "", str(summary["matched"]), str(summary["unmatched"]), style="bold")
    con.print(t)
    for ds, c in summary["per_dataset"].items():
        con.print(f"dataset {ds}: {c}")
    if summary["unmatched_files"]:
        reasons = Counter(u["reason"] for u in summary["unmatched_files"])
        con.print(f"[yellow]{summary['unmatched']} unmatched file(s)[/yellow] (listed in {summary_path(Path(summary['manifest']), summary['dataset'])}):")
        for r, n in reasons.most_common():
            ex = next(u["path"] for u in summary["unmatched_files"] if u["reason"] == r)
            con.print(f"  {n} x {r}, e.g. {ex}")
