"""The deterministic run directory: {output_root}/{stage}/{strategy}[+{augment}]/{dataset}/{model}[_ratio0p50][_{loss}][_seed{N}]."""

from __future__ import annotations


def ratio_tag(ratio: float) -> str:
    return f"ratio{ratio:.2f}".replace(".", "p")


def run_relpath(
    stage: str,
    strategy: str,
    dataset: str,
    model: str,
    augment: str | None = None,
    ratio: float | None = None,
    loss: str | None = None,
    strategy_augment: str | None = None,
    seed: int | None = None,
    default_seed: int | None = None,
) -> str:
    """Relative run path; ``augment`` 'none', ratio 1.0/None, loss 'ce' and the default seed leave no suffix.

    A seed other than ``default_seed`` adds ``_seed<N>``, so the runs of a seed sweep never share a directory
    while every existing single-seed run keeps its name.

    ``strategy_augment`` is the augment a std_* strategy preset selects: that one leaves no suffix (std_cutmix,
    not std_cutmix+cutmix), any other choice is shown, 'none' included (std_cutmix+none is not std_cutmix).
    """
    if strategy_augment:
        strat = strategy if augment == strategy_augment else f"{strategy}+{augment or 'none'}"
    else:
        strat = strategy if not augment or augment == "none" else f"{strategy}+{augment}"
    leaf = model
    if ratio is not None:
        try:
            value = float(ratio)
        except (TypeError, ValueError):
            from prove_lightning.errors import ConfigError

            raise ConfigError(f"strategy.ratio={ratio}: must be a number in [0, 1] (the real fraction of each batch), e.g. strategy.ratio=0.5") from None
        if value < 1.0:
            leaf += f"_{ratio_tag(value)}"
    if loss and loss != "ce":
        leaf += f"_{loss}"
    if seed is not None and default_seed is not None and int(seed) != int(default_seed):
        leaf += f"_seed{int(seed)}"
    return f"{stage}/{strat}/{dataset}/{leaf}"
