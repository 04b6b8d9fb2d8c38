"""Generated-image manifests: read, validate and turn rows into SampleRecords, reporting every dropped row.

A manifest is a CSV with the columns ``gen_path, original_path, label_path, dataset, domain,
target_domain, method``: one generated image, the real training image it was translated from, that
image's label (reused for the generated one), the dataset key, the normalised domain (one of the
seven), the raw target-domain name the generator used, and the method. Relative paths are relative
to the manifest's folder. The old pipeline dropped rows silently by folder name; here every row that
is not used is counted with its reason: *filtered* rows are expected selections (another dataset, a
domain not asked for, an original held out for validation), *dropped* rows are invalid (a missing
file, a size mismatch, an unknown domain, ...). Both appear in audit.json and in the log.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.records import SampleRecord
from prove_lightning.errors import ConfigError, DataError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS: tuple[str, ...] = ("gen_path", "original_path", "label_path", "dataset", "domain", "target_domain", "method")
ALIASES_FILE = "conf/manifest/default.yaml"
N_EXAMPLES = 3


# --------------------------------------------------------------------------------------- options / names
@dataclass(frozen=True)
class ManifestOptions:
    """The ``manifest`` config node (conf/manifest/default.yaml)."""

    domain_aliases: Mapping[str, Sequence[str]]
    target_separators: Sequence[str] = ("_to_", "2")
    dataset_folders: Sequence[str] = ()
    stem_suffixes: Sequence[str] = ()
    check_sizes: str = "all"
    size_check_sample: int = 256
    on_invalid: str = "drop"
    max_invalid_fraction: float = 0.5

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> "ManifestOptions":
        if cfg is None:
            raise ConfigError(f"the manifest options are missing; compose the `manifest` config group ({ALIASES_FILE})")
        known = set(cls.__dataclass_fields__)
        unknown = set(cfg) - known
        if unknown:
            raise ConfigError(f"unknown manifest option(s) {sorted(unknown)}; known: {sorted(known)}")
        opts = cls(**{k: cfg[k] for k in cfg})
        if opts.check_sizes not in ("all", "sample"):
            raise ConfigError(f"manifest.check_sizes must be 'all' or 'sample', got {opts.check_sizes!r}")
        if opts.on_invalid not in ("drop", "error"):
            raise ConfigError(f"manifest.on_invalid must be 'drop' or 'error', got {opts.on_invalid!r}")
        if not 0 <= float(opts.max_invalid_fraction) <= 1:
            raise ConfigError(f"manifest.max_invalid_fraction must be in [0, 1], got {opts.max_invalid_fraction}")
        return opts


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


class DomainNormalizer:
    """Raw target-domain names ('fog', 'clear_day2fog', 'rain_drizzle', ...) -> one of the seven domains."""

    def __init__(self, aliases: Mapping[str, Sequence[str]], separators: Sequence[str] = ("_to_", "2")) -> None:
        self.table: dict[str, str] = {}
        for domain, names in aliases.items():
            if domain not in DOMAINS:
                raise ConfigError(f"manifest.domain_aliases: '{domain}' is not a domain; keys must be among {list(DOMAINS)}")
            for raw in [domain, *names]:
                k = _key(raw)
                if self.table.get(k, domain) != domain:
                    raise ConfigError(f"manifest.domain_aliases: '{raw}' is listed under both '{self.table[k]}' and '{domain}'")
                self.table[k] = domain
        self.separators = tuple(separators)

    def __call__(self, raw: str) -> str | None:
        k = _key(raw)
        if k in self.table:
            return self.table[k]
        for sep in self.separators:
            if sep in k:
                tail = k.rsplit(sep, 1)[1]
                if tail in self.table:
                    return self.table[tail]
        return None


def dataset_key(name: str) -> str:
    """Dataset names compare case-blind, ignoring '-' and '_' (IDD-AW == iddaw, ToyCity == toycity)."""
    return str(name).lower().replace("-", "").replace("_", "")


def abspath(p: str | os.PathLike, base: Path | None = None) -> str:
    """Absolute, normalised path string (no symlink resolution); relative paths are taken from ``base``."""
    p = os.fspath(p)
    if base is not None and not os.path.isabs(p):
        p = os.path.join(base, p)
    return os.path.normpath(os.path.abspath(p))


def image_size(path: str) -> tuple[int, int]:
    """(width, height) from the file header; raises DataError if the file cannot be read as an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: cannot read image ({e})") from None


# ------------------------------------------------------------------------------------------------ report
@dataclass
class ManifestReport:
    """What happened to every row of the manifest (written to audit.json under mixing.manifest)."""

    manifest: str
    dataset: str
    method: str | None
    rows_total: int = 0
    rows_dataset: int = 0
    used: int = 0
    filtered: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    used_per_domain: Counter = field(default_factory=Counter)
    raw_domains: dict[str, str] = field(default_factory=dict)
    size_check: str = "all"

    def filter(self, reason: str, example: str) -> None:
        self.filtered[reason] += 1
        self._example(reason, example)

    def drop(self, reason: str, example: str) -> None:
        self.dropped[reason] += 1
        self._example(reason, example)

    def _example(self, reason: str, example: str) -> None:
        ex = self.examples.setdefault(reason, [])
        if len(ex) < N_EXAMPLES:
            ex.append(example)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest,
            "dataset": self.dataset,
            "method": self.method,
            "rows_total": self.rows_total,
            "rows_for_dataset": self.rows_dataset,
            "used": self.used,
            "used_per_domain": {d: self.used_per_domain[d] for d in DOMAINS if self.used_per_domain[d]},
            "raw_target_domains": dict(sorted(self.raw_domains.items())),
            "filtered": dict(self.filtered.most_common()),
            "dropped": dict(self.dropped.most_common()),
            "examples": self.examples,
            "size_check": self.size_check,
        }

    def lines(self) -> list[str]:
        out = [f"manifest {self.manifest}: {self.used} of {self.rows_dataset} rows for dataset '{self.dataset}' used ({self.rows_total} rows in all)"]
        out += [f"  filtered {n}: {r}" for r, n in self.filtered.most_common()]
        out += [f"  DROPPED {n}: {r} (e.g. {self.examples[r][0]})" for r, n in self.dropped.most_common()]
        return out


# ------------------------------------------------------------------------------------------------ reading
def read_manifest_table(path: str | os.PathLike) -> "Any":
    """The CSV as a DataFrame of strings, after checking that it exists, parses, has the columns and rows."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"manifest not found: {path}; build it with `prove manifest build <generated folder> dataset=<name>` "
            "(or `prove generate <method>` for a built-in generator), or point strategy.manifest at it"
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"manifest {path} is empty (no header, no rows); rebuild it with `prove manifest build`") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"manifest {path} is not a readable CSV ({e}); rebuild it with `prove manifest build`") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"manifest {path} lacks column(s) {missing}; expected {list(MANIFEST_COLUMNS)} (found {list(df.columns)}); rebuild it with `prove manifest build`")
    if df.empty:
        raise DataError(f"manifest {path} has a header but no rows; the generated folder was empty when it was built")
    return df


def load_manifest(
    path: str | os.PathLike,
    *,
    dataset: str,
    train_records: Sequence[SampleRecord],
    options: ManifestOptions,
    excluded: Mapping[str, str] | None = None,
    dataset_aliases: Iterable[str] = (),
    method: str | None = None,
    domains: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[list[SampleRecord], ManifestReport]:
    """Validated generated records of ``dataset`` and the report of every row.

    ``train_records`` are the real images training may use (after the val carve and the stage's domain
    filter); a row whose original is one of them reuses its label. ``excluded`` maps the absolute path
    of other known images of the dataset (held-out val, other domains) to the reason they are not used.
    ``domains`` (strategy.domains) keeps only rows whose normalised domain is listed.
    """
    path = Path(path)
    base = path.parent
    df = read_manifest_table(path)
    norm = DomainNormalizer(options.domain_aliases, options.target_separators)
    report = ManifestReport(manifest=str(path), dataset=dataset, method=method, rows_total=len(df), size_check=options.check_sizes)
    keys = {dataset_key(dataset), *(dataset_key(a) for a in dataset_aliases)}
    in_ds = df["dataset"].map(dataset_key).isin(keys)
    if not in_ds.any():
        present = dict(Counter(df["dataset"]).most_common())
        raise DataError(f"manifest {path} has no rows for dataset '{dataset}' (rows per dataset: {present}); build it for this dataset with `prove manifest build ... dataset={dataset}`")
    report.rows_dataset = int(in_ds.sum())
    if (~in_ds).any():
        report.filtered["row of another dataset"] += int((~in_ds).sum())
    if domains is not None:
        domains = list(domains)
        bad = [d for d in domains if d not in DOMAINS]
        if bad:
            raise ConfigError(f"strategy.domains {bad} are not domain names; use any of {list(DOMAINS)}")
    train_by_path = {abspath(r.image): r for r in train_records}
    excluded = dict(excluded or {})
    seen: set[str] = set()
    label_ok: dict[str, str | None] = {}
    candidates: list[tuple[int, str, SampleRecord]] = []

    def bad(reason: str, row_no: int, gen: str, detail: str = "") -> None:
        example = f"row {row_no}: {gen}" + (f" ({detail})" if detail else "")
        if options.on_invalid == "error":
            raise DataError(f"manifest {path}, {example}: {reason}; fix or remove the row (or set manifest.on_invalid=drop)")
        report.drop(reason, example)

    sub = df[in_ds]
    for idx, row in zip(sub.index, sub.itertuples(index=False)):
        row_no = int(idx) + 2  # the CSV line number (1-based, after the header)
        gen_raw = row.gen_path
        empty = [c for c in ("gen_path", "original_path", "label_path", "domain") if not str(getattr(row, c)).strip()]
        if empty:
            bad(f"empty field(s) {', '.join(empty)}", row_no, gen_raw or "<no gen_path>")
            continue
        gen = abspath(gen_raw, base)
        if gen in seen:
            bad("duplicate gen_path (the same generated image is listed twice)", row_no, gen_raw)
            continue
        seen.add(gen)
        if method is not None and row.method and _key(row.method) != _key(method):
            bad(f"method differs from the strategy's method '{method}'", row_no, gen_raw, f"method={row.method}")
            continue
        domain = row.domain if row.domain in DOMAINS else norm(row.domain)
        if domain is None:
            bad(f"unknown domain name (add it to manifest.domain_aliases in {ALIASES_FILE})", row_no, gen_raw, f"domain={row.domain}")
            continue
        if row.target_domain:
            target = norm(row.target_domain)
            if target is None:
                bad(f"unknown target_domain name (add it to manifest.domain_aliases in {ALIASES_FILE})", row_no, gen_raw, f"target_domain={row.target_domain}")
                continue
            if target != domain:
                bad("domain disagrees with target_domain", row_no, gen_raw, f"domain={row.domain}, target_domain={row.target_domain}")
                continue
            report.raw_domains[row.target_domain] = domain
        if domains is not None and domain not in domains:
            report.filter(f"domain not in strategy.domains {domains}", f"row {row_no}: {gen_raw} ({domain})")
            continue
        if not os.path.isfile(gen):
            bad("generated image file missing", row_no, gen_raw, gen)
            continue
        orig = abspath(row.original_path, base)
        rec = train_by_path.get(orig)
        if rec is None:
            if orig in excluded:
                report.filter(excluded[orig], f"row {row_no}: {gen_raw} (original {row.original_path})")
            else:
                bad(f"original is not a training image of dataset '{dataset}' (test split, another dataset, or another data root?)", row_no, gen_raw, f"original={row.original_path}")
            continue
        label = abspath(row.label_path, base)
        if label != abspath(rec.label):
            bad("label_path is not the label of the original", row_no, gen_raw, f"label_path={row.label_path}, the dataset's label: {rec.label}")
            continue
        if label not in label_ok:
            label_ok[label] = None if os.path.isfile(label) else "label file missing"
        if label_ok[label]:
            bad(label_ok[label], row_no, gen_raw, label)
            continue
        record = SampleRecord(
            image=Path(gen),
            label=Path(label),
            dataset=rec.dataset,
            domain=domain,
            split="train",
            domain_source="manifest",
            generated=True,
            method=row.method or method,
            original=Path(orig),
            extra={"target_domain": row.target_domain or row.domain},
        )
        candidates.append((row_no, gen_raw, record))

    kept, report.size_check = _check_sizes(candidates, options, seed, bad)
    report.used = len(kept)
    report.used_per_domain.update(r.domain for r in kept)
    n_bad = sum(report.dropped.values())
    if n_bad:
        log.warning("\n".join(report.lines()))
    else:
        log.info("\n".join(report.lines()))
    if not kept:
        raise DataError("no usable generated rows: " + "; ".join(report.lines()) + "; fix the manifest or its filters (strategy.domains)")
    if report.rows_dataset and n_bad / report.rows_dataset > float(options.max_invalid_fraction):
        raise DataError(
            f"{n_bad} of {report.rows_dataset} rows of manifest {path} are invalid (more than manifest.max_invalid_fraction="
            f"{options.max_invalid_fraction}): " + "; ".join(f"{n} x {r}" for r, n in report.dropped.most_common())
        )
    return kept, report


def _check_sizes(candidates: list[tuple[int, str, SampleRecord]], options: ManifestOptions, seed: int, bad) -> tuple[list[SampleRecord], str]:  # noqa: ANN001
    """Generated image size == label size, for all rows or a seeded sample (rows failing are dropped)."""
    n = len(candidates)
    if options.check_sizes == "sample" and n > options.size_check_sample:
        chosen = set(np.random.default_rng([seed, 0x517E]).choice(n, options.size_check_sample, replace=False).tolist())
        how = f"sample of {len(chosen)} of {n} rows (the rest are checked when loaded)"
    else:
        chosen = set(range(n))
        how = f"all {n} rows"
    label_sizes: dict[Path, tuple[int, int] | str] = {}
    kept = []
    for i, (row_no, gen_raw, rec) in enumerate(candidates):
        if i in chosen:
            try:
                gsize = image_size(str(rec.image))
            except DataError as e:
                bad("unreadable generated image", row_no, gen_raw, str(e))
                continue
            if rec.label not in label_sizes:
                try:
                    label_sizes[rec.label] = image_size(str(rec.label))
                except DataError as e:
                    label_sizes[rec.label] = str(e)
            lsize = label_sizes[rec.label]
            if isinstance(lsize, str):
                bad("unreadable label", row_no, gen_raw, lsize)
                continue
            if gsize != lsize:
                bad("generated image size differs from its label's size", row_no, gen_raw, f"{gsize[0]}x{gsize[1]} vs label {lsize[0]}x{lsize[1]}")
                continue
        kept.append(rec)
    return kept, how
