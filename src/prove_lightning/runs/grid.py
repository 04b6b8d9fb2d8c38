"""Strategy sets of the all-strategies grids as a rule (a Hydra ``glob`` with exclusions), not pasted lists.

``conf/grid/published.yaml`` names, once, the strategy files that stay out of the published grids (templates,
the noise study's strategy, retired presets and the strategies newer than the team's run log). Every other
``conf/strategy/*.yaml`` is in, so a new ``gen_X.yaml`` joins every all-strategies grid without editing a sweep.
``grid.extra_strategies=[gen_flux2,...]`` takes newer strategies back in; naming one that is not excluded
(a typo, or a strategy already in the grid) is an error, never a silent no-op.
"""

from __future__ import annotations

from typing import Sequence

from prove_lightning.errors import ConfigError


def strategy_glob(pattern: str, exclude: Sequence[str], optional: Sequence[str] = (), extra: Sequence[str] = (), also: Sequence[str] = ()) -> str:
    """The sweeper value ``glob(pattern,exclude=[...])``: ``exclude`` and ``also`` always out, ``optional`` out unless in ``extra``."""
    extra = [str(e) for e in extra or ()]
    unknown = [e for e in extra if e not in optional]
    if unknown:
        raise ConfigError(
            f"grid.extra_strategies: {unknown} are not among the strategies this grid leaves out by default "
            f"{list(optional)} (conf/grid/published.yaml); every other conf/strategy file is already in the grid"
        )
    out = [str(x) for x in (*exclude, *(also or ()))] + [str(o) for o in optional if o not in extra]
    return f"glob({pattern},exclude=[{','.join(out)}])"
