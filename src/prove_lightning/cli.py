"""`prove`: one command for the framework's tools.

    prove train  [hydra overrides]       same as python -m prove_lightning.train
    prove eval   [hydra overrides]       same as python -m prove_lightning.eval
    prove results [--output-root DIR] [--stage NAME] [--metric mIoU]
"""

from __future__ import annotations

import argparse
import runpy
import sys

from prove_lightning.cli_errors import user_errors

HYDRA_COMMANDS = {"train": "prove_lightning.train", "eval": "prove_lightning.eval"}


def _results(argv: list[str]) -> int:
    from prove_lightning.report import print_table

    p = argparse.ArgumentParser(prog="prove results", description="Print (and save) per-domain tables from the results store.")
    p.add_argument("--output-root", default=None, help="root holding results.csv (default: paths.output_root, i.e. $PROVE_OUTPUT_ROOT or ./outputs)")
    p.add_argument("--stage", default=None, help="only this stage (e.g. demo, s1)")
    p.add_argument("--metric", default="mIoU", help="mIoU, mAcc, aAcc or fwIoU")
    p.add_argument("--no-save", action="store_true", help="print only; do not write tables/ CSV and Markdown")
    a = p.parse_args(argv)
    import os

    root = a.output_root or os.environ.get("PROVE_OUTPUT_ROOT", "outputs")
    print_table(root, a.stage, a.metric, save=not a.no_save)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {**{k: f"hydra entry point ({v})" for k, v in HYDRA_COMMANDS.items()}, "results": "per-domain tables from the results store"}
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("commands:\n" + "\n".join(f"  {k:10s} {v}" for k, v in commands.items()))
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd in HYDRA_COMMANDS:
        sys.argv = [f"prove {cmd}", *rest]
        runpy.run_module(HYDRA_COMMANDS[cmd], run_name="__main__")
        return 0
    with user_errors():
        if cmd == "results":
            return _results(rest)
    print(f"prove: unknown command '{cmd}'; one of: {', '.join(commands)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
