"""prove manifest: build a generated-images manifest from a folder, or check one as a training run would.

    prove manifest build <generated folder> dataset=<name> [--method M] [--layout auto|domain_dataset|dataset_domain|flat]
    prove manifest build strategy=gen_CUT dataset=bdd10k      # folder and method from the strategy
    prove manifest check strategy=gen_CUT dataset=bdd10k      # load it like training does; print kept/dropped rows
    prove manifest check strategy=gen_CUT dataset=bdd10k --decode   # also decode every generated image fully

Arguments with '=' are config overrides (as for `prove train`): dataset=..., paths.data_root=...,
paths.generated_root=..., manifest.* (domain aliases, checks: conf/manifest/default.yaml).
`build` matches every image to the dataset's training image with the same stem, writes manifest.csv
(rows of other datasets already in it are kept) and manifest.summary.<dataset>.json (counts per domain
and dataset, every unmatched file with its reason), and prints the summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "build a generated-images manifest from a folder (build) or validate one (check)"


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    return [a for a in args if "=" not in a], [a for a in args if "=" in a]


def _compose(overrides: list[str]):  # noqa: ANN202
    from prove_lightning.config import compose

    cfg = compose("train", overrides)
    cfg.pop("hydra", None)
    return cfg


def build(argv: list[str]) -> int:
    from omegaconf import OmegaConf

    from prove_lightning.config import instantiate
    from prove_lightning.data.manifest import ManifestOptions
    from prove_lightning.data.manifest_build import LAYOUTS, build_manifest, print_summary
    from prove_lightning.errors import ConfigError

    p = argparse.ArgumentParser(prog="prove manifest build", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("args", nargs="*", help="[generated folder] and config overrides (dataset=..., strategy=gen_..., paths.*=...)")
    p.add_argument("--method", help="method name for the `method` column (default: the strategy's method, else the folder name)")
    p.add_argument("--layout", default="auto", choices=LAYOUTS, help="folder layout of the generated images (default: detect)")
    p.add_argument("--output", help="manifest path (default: <folder>/manifest.csv, or the strategy's manifest)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = p.parse_intermixed_args(argv)
    folders, overrides = _split(a.args)
    if len(folders) > 1:
        raise ConfigError(f"give one generated-images folder, got {folders}")
    cfg = _compose(overrides)
    strategy_manifest = OmegaConf.select(cfg, "strategy.manifest", default=None)
    if folders:
        gen_dir = Path(folders[0])
        output = Path(a.output) if a.output else gen_dir / "manifest.csv"
    elif strategy_manifest:
        output = Path(a.output or strategy_manifest)
        gen_dir = Path(strategy_manifest).parent
    else:
        raise ConfigError("say which folder to scan: `prove manifest build <folder> dataset=...` or `prove manifest build strategy=gen_<method> dataset=...`")
    method = a.method or OmegaConf.select(cfg, "strategy.method", default=None) or gen_dir.name
    source = instantiate(cfg.dataset.source)
    summary = build_manifest(
        gen_dir,
        method=method,
        dataset=source.name,
        dataset_aliases=[getattr(source, "dataset_dir", source.name)],
        records=source.records("train"),
        options=ManifestOptions.from_config(cfg.manifest),
        layout=a.layout,
        output=output,
        progress=not a.no_progress,
    )
    print_summary(summary)
    return 0


def check(argv: list[str]) -> int:
    from prove_lightning.config import instantiate

    p = argparse.ArgumentParser(prog="prove manifest check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("args", nargs="*", help="[manifest.csv] and config overrides (strategy=gen_..., dataset=..., manifest.check_sizes=sample, ...)")
    p.add_argument("--decode", action="store_true", help="decode every generated image completely (finds files whose header is intact but whose data is cut)")
    a = p.parse_intermixed_args(argv)
    files, overrides = _split(a.args)
    if files:
        overrides.append(f"strategy.manifest={files[0]}")
    cfg = _compose(overrides)
    dm = instantiate(cfg.data)
    mix = dm.describe()["mixing"]
    if not mix["active"]:
        print(f"strategy '{cfg.strategy.name}' uses no generated images (ratio {mix['ratio']}); nothing to check")
        return 0
    rep = mix["manifest"]
    print(f"generated pool: {mix['generated_pool_size']} rows {mix['generated_pool_per_domain']}")
    for k in ("manifest", "rows_total", "rows_for_dataset", "used", "size_check"):
        if k in rep:
            print(f"  {k}: {rep[k]}")
    for kind in ("filtered", "dropped"):
        for reason, n in rep.get(kind, {}).items():
            print(f"  {kind} {n}: {reason}; e.g. {rep['examples'][reason][0]}")
    undecodable = _decode_all(dm.generated_records) if a.decode else []
    return 1 if rep.get("dropped") or undecodable else 0


def _decode_all(records: list) -> list[str]:  # noqa: ANN001
    """Decode each generated image fully (the header check reads only the size); print and return the failures."""
    from prove_lightning.errors import DataError
    from prove_lightning.images import read_image

    bad = []
    for rec in records:
        try:
            read_image(rec.image)
        except DataError as e:
            bad.append(str(e))
    print(f"  decoded: {len(records) - len(bad)} of {len(records)} generated images" + (f"; {len(bad)} cannot be decoded:" if bad else ""))
    for line in bad[:20]:
        print(f"    {line}")
    if len(bad) > 20:
        print(f"    ... and {len(bad) - 20} more")
    return bad


def main(argv: list[str]) -> int:
    commands = {"build": build, "check": check}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return commands[argv[0]](argv[1:])
