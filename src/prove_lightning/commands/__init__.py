"""Subcommands of `prove`: module ``prove_lightning.commands.<name>`` provides ``HELP`` and ``main(argv) -> int``."""
