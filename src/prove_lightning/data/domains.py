"""The seven domain names used everywhere (never fog/rain/snow)."""

from __future__ import annotations

DOMAINS: tuple[str, ...] = ("clear_day", "cloudy", "dawn_dusk", "foggy", "night", "rainy", "snowy")
ADVERSE_DOMAINS: tuple[str, ...] = ("foggy", "night", "rainy", "snowy")


def resolve_domains(domains: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Turn a config value (``all``, ``null``, one name or a list) into a checked tuple of domain names."""
    from prove_lightning.errors import ConfigError

    if domains is None or domains == "all":
        return DOMAINS
    if isinstance(domains, str):
        domains = [domains]
    out = tuple(domains)
    unknown = [d for d in out if d not in DOMAINS]
    if unknown:
        raise ConfigError(f"unknown domain(s) {unknown}; use any of {list(DOMAINS)} or 'all'")
    return out
