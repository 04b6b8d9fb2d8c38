"""`prove`: one command for the framework's tools.

    prove train [hydra overrides]     same as python -m prove_lightning.train
    prove eval  [hydra overrides]     same as python -m prove_lightning.eval
    prove <command> --help            help of any other command below
"""

from __future__ import annotations

import importlib
import pkgutil
import runpy
import sys

import prove_lightning.commands as commands_pkg
from prove_lightning.cli_errors import user_errors

HYDRA_COMMANDS = {"train": "prove_lightning.train", "eval": "prove_lightning.eval"}


def available_commands() -> dict[str, str]:
    """Hydra entry points plus every module in prove_lightning.commands (its HELP line)."""
    found = {k: f"Hydra entry point ({v}); --help lists config groups" for k, v in HYDRA_COMMANDS.items()}
    for info in pkgutil.iter_modules(commands_pkg.__path__):
        mod = importlib.import_module(f"prove_lightning.commands.{info.name}")
        found[info.name] = getattr(mod, "HELP", "")
    return found


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = available_commands()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("commands:\n" + "\n".join(f"  {k:10s} {v}" for k, v in sorted(commands.items())))
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd in HYDRA_COMMANDS:
        sys.argv = [f"prove {cmd}", *rest]
        runpy.run_module(HYDRA_COMMANDS[cmd], run_name="__main__")
        return 0
    if cmd not in commands:
        print(f"prove: unknown command '{cmd}'; one of: {', '.join(sorted(commands))}", file=sys.stderr)
        return 2
    with user_errors():
        return int(importlib.import_module(f"prove_lightning.commands.{cmd}").main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
