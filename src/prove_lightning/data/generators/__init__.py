"""Built-in procedural generators: translate real clear-weather images into adverse domains.

Each generator is configured in its strategy file (``strategy.generator`` with a ``_target_``), writes
``<folder>/<target>/<DatasetDir>/<stem>.png`` (the domain_dataset layout) and gets its manifest from
the same code as `prove manifest build`. See run.py for generation and caching.
"""

from prove_lightning.data.generators.base import Generator

__all__ = ["Generator"]
