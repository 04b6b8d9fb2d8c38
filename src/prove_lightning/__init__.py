"""prove-lightning: robustness studies of semantic segmentation under adverse weather and night."""

__version__ = "0.1.0"

__all__ = ["load_run"]


def __getattr__(name: str):  # noqa: ANN202 - lazy: `import prove_lightning` (the CLI, --help) stays free of torch
    if name == "load_run":
        from prove_lightning.predict import load_run

        return load_run
    raise AttributeError(f"module 'prove_lightning' has no attribute {name!r}")
