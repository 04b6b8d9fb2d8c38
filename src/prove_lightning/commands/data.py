"""prove data check dataset=<name> [overrides]: scan a dataset tree exactly as training reads it.

Composes the training config with the given Hydra overrides (so paths.*, env roots and dataset.source.*
apply as in a run), builds the dataset's adapter and checks every split it maps: counts per split and
domain, images without labels, labels without images, images with no domain tag, image/label size
mismatches, label values outside the dataset's label set, files that do not decode, images in two
splits. Exit status 0 when the tree is clean, 1 when anything is wrong (listed), 2 for a config error.

examples:
  prove data check dataset=cityscapes paths.cityscapes_root=/data/cityscapes
  prove data check dataset=bdd10k dataset.source.domain_csv=bdd_domains.csv
  prove data check dataset=mapillary dataset.label_variant=rein --quick
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Iterable

HELP = "check a dataset tree (pairs, domains, sizes, label values) as training will read it"


def _progress(console):  # noqa: ANN001, ANN202
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console, transient=True)

    def wrap(it: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
        task = prog.add_task(desc, total=total)
        for x in it:
            yield x
            prog.advance(task)

    return prog, wrap


def print_report(report, console, max_list: int) -> None:  # noqa: ANN001
    from rich.table import Table

    from prove_lightning.data.check import KINDS
    from prove_lightning.data.domains import DOMAINS

    splits = list(report.counts)
    domains = [d for d in DOMAINS if any(report.counts[s].get(d) for s in splits)]
    src = report.source
    console.print(f"[bold]{report.dataset}[/] ({src.get('adapter', '?')}) at {src.get('root', '?')}; labels: {report.label_mapping}", highlight=False)
    table = Table(title="images per split and domain")
    table.add_column("split")
    for d in domains:
        table.add_column(d, justify="right")
    table.add_column("total", justify="right")
    table.add_column("domain source")
    for s in splits:
        c = report.counts[s]
        how = ", ".join(f"{k} {v}" for k, v in report.domain_sources[s].most_common())
        table.add_row(s, *[str(c.get(d, 0)) for d in domains], str(sum(c.values())), how)
    console.print(table)
    for note in report.notes:
        console.print(f"  {note}")
    for kind, probs in report.by_kind().items():
        console.print(f"[bold red]{kind.replace('_', ' ')}: {len(probs)}[/] ({KINDS[kind]})")
        for p in probs[:max_list]:
            console.print(f"  {p.path if p.path is not None else ''}{': ' if p.path is not None and p.detail else ''}{p.detail}", highlight=False, soft_wrap=True)
        if len(probs) > max_list:
            console.print(f"  ... and {len(probs) - max_list} more (--max-list)")
    console.print("[bold green]OK[/]: no problems found" if report.ok else f"[bold red]{len(report.problems)} problem(s)[/]")


def check(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="prove data check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="Hydra overrides of the train config; dataset=<name> is required")
    p.add_argument("--quick", action="store_true", help="read image headers only (labels are always decoded)")
    p.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1), help="decoding threads (default: min(8, cores))")
    p.add_argument("--max-list", type=int, default=20, help="files listed per problem kind (default 20)")
    a = p.parse_args(argv)
    if not any(o.startswith("dataset=") for o in a.overrides):
        p.error("give the dataset to check, e.g. dataset=cityscapes (options: conf/dataset/*.yaml)")

    from rich.console import Console

    from prove_lightning.config import compose, instantiate
    from prove_lightning.data.check import check_source

    cfg = compose("train", a.overrides)
    cfg.pop("hydra", None)
    source = instantiate(cfg.dataset.source)
    console = Console(file=sys.stdout, width=160)
    prog, wrap = _progress(Console(file=sys.stderr))
    with prog:
        report = check_source(source, decode_images=not a.quick, jobs=a.jobs, progress=wrap)
    print_report(report, console, a.max_list)
    return 0 if report.ok else 1


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("subcommands:\n  check      scan a dataset tree (prove data check --help)")
        return 0
    if argv[0] != "check":
        print(f"prove data: unknown subcommand '{argv[0]}'; use: prove data check dataset=<name> [overrides]", file=sys.stderr)
        return 2
    return check(argv[1:])
