"""gen_physics_weather: simple physical models of fog, night, rain and snow on a single image, no depth map.

Depth is guessed from the image row (a street photo's ground recedes towards a horizon line; everything
above it is far): d(y) = 1 above the horizon, ((H - y) / (H - horizon)) ** 1.5 below. Then

    fog    Koschmieder's law  I = J t + A (1 - t),  t = exp(-beta d)
    night  gamma darkening with a blue tint, warm glows of a few light sources near the street, sensor noise
    rain   a thin haze veil, desaturation and darkening, slanted motion-blurred streaks
    snow   a haze veil, low-saturation ground pixels blended towards white, blurred flakes

Each target is configured in strategy gen_physics_weather (``generator.targets``: raw name -> {kind, params});
the parameters given as [low, high] are drawn per image from the image's seeded generator.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np

from prove_lightning.data.generators.base import Generator
from prove_lightning.errors import ConfigError

Params = Mapping[str, Any]


def _draw(v: Any, rng: np.random.Generator) -> float:
    """A number, or a [low, high] range drawn uniformly."""
    if isinstance(v, (list, tuple)) or (hasattr(v, "__len__") and not isinstance(v, str)):
        lo, hi = (float(x) for x in v)
        return float(rng.uniform(lo, hi))
    return float(v)


def pseudo_depth(h: int, w: int, horizon: float) -> np.ndarray:
    """(h, w) depth in [0, 1], 1 = far: rows above the horizon are far, the ground comes nearer downwards."""
    y = np.arange(h, dtype=np.float32)
    hz = horizon * h
    d = np.where(y <= hz, 1.0, np.clip((h - y) / max(h - hz, 1.0), 0, 1) ** 1.5).astype(np.float32)
    return np.repeat(d[:, None], w, axis=1)


def _haze(img: np.ndarray, depth: np.ndarray, beta: float, airlight: float) -> np.ndarray:
    t = np.exp(-beta * depth)[..., None]
    return img * t + airlight * (1 - t)


def fog(img: np.ndarray, depth: np.ndarray, rng: np.random.Generator, p: Params) -> np.ndarray:
    return _haze(img, depth, _draw(p.get("beta", [2.5, 4.0]), rng), _draw(p.get("airlight", [0.78, 0.88]), rng))


def night(img: np.ndarray, depth: np.ndarray, rng: np.random.Generator, p: Params) -> np.ndarray:
    h, w = depth.shape
    tint = np.array(p.get("tint", [0.85, 0.9, 1.2]), np.float32)
    out = np.power(img, _draw(p.get("gamma", [1.4, 1.8]), rng)) * _draw(p.get("gain", [0.12, 0.22]), rng) * tint
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(p.get("lights", 10))):
        cy, cx = rng.uniform(0.3, 0.85) * h, rng.uniform(0, 1) * w
        r = rng.uniform(0.005, 0.02) * w
        glow = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
        out += glow * np.array([1.0, 0.85, 0.55], np.float32) * rng.uniform(0.5, 1.0)
    out *= 1 + float(p.get("noise", 0.05)) * rng.normal(0, 1, size=(h, w, 1)).astype(np.float32)
    return out


def _streaks(h: int, w: int, density: float, length: int, angle: float, rng: np.random.Generator) -> np.ndarray:
    seeds = (rng.random((h, w)) < density).astype(np.float32)
    k = np.zeros((length, length), np.float32)
    k[:, length // 2] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    k = cv2.warpAffine(k, rot, (length, length))
    return np.clip(cv2.filter2D(seeds, -1, k / max(k.max(), 1e-6)), 0, 1)


def rain(img: np.ndarray, depth: np.ndarray, rng: np.random.Generator, p: Params) -> np.ndarray:
    h, w = depth.shape
    out = _haze(img, depth, _draw(p.get("veil", [0.6, 1.0]), rng), 0.7)
    gray = out.mean(axis=2, keepdims=True)
    s = _draw(p.get("desaturate", [0.3, 0.5]), rng)
    out = (out * (1 - s) + gray * s) * _draw(p.get("darken", [0.6, 0.75]), rng)
    length = max(3, int(round(float(p.get("length", 0.06)) * h)))
    streak = _streaks(h, w, _draw(p.get("density", [0.01, 0.02]), rng), length, _draw(p.get("angle", [-15, 15]), rng), rng)
    return out + 0.35 * streak[..., None]


def snow(img: np.ndarray, depth: np.ndarray, rng: np.random.Generator, p: Params) -> np.ndarray:
    h, w = depth.shape
    out = _haze(img, depth, _draw(p.get("veil", [0.5, 0.9]), rng), 0.85)
    hsv = cv2.cvtColor((np.clip(img, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
    low_sat = 1.0 - hsv[..., 1].astype(np.float32) / 255.0
    ground = (depth < 1.0).astype(np.float32)
    amount = _draw(p.get("cover", [0.6, 0.85]), rng) * ground * low_sat * (0.8 + 0.2 * rng.random((h, w)).astype(np.float32))
    out = out * (1 - amount[..., None]) + np.array([0.93, 0.94, 0.97], np.float32) * amount[..., None]
    flakes = (rng.random((h, w)) < _draw(p.get("flakes", [0.01, 0.02]), rng)).astype(np.float32)
    flakes = np.clip(cv2.GaussianBlur(flakes, (3, 3), 0.6) * 2.5, 0, 1)
    return out * (1 - flakes[..., None]) + flakes[..., None]


RENDERERS: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator, Params], np.ndarray]] = {
    "fog": fog,
    "night": night,
    "rain": rain,
    "snow": snow,
}


class PhysicsWeather(Generator):
    def __init__(self, targets: Mapping[str, Mapping[str, Any]], horizon: float = 0.45, source_domains: Sequence[str] = ("clear_day",), seed: int = 0) -> None:
        super().__init__(source_domains, seed)
        if not targets:
            raise ConfigError("strategy.generator.targets is empty; give raw target names with a `kind` among " + str(sorted(RENDERERS)))
        self._targets: dict[str, dict[str, Any]] = {}
        for name, spec in targets.items():
            spec = dict(spec)
            kind = spec.pop("kind", None)
            if kind not in RENDERERS:
                raise ConfigError(f"strategy.generator.targets.{name}.kind={kind!r}; use one of {sorted(RENDERERS)}")
            self._targets[str(name)] = {"kind": kind, **{k: (list(v) if not isinstance(v, (int, float, str)) else v) for k, v in spec.items()}}
        if not 0 < horizon < 1:
            raise ConfigError(f"strategy.generator.horizon must be in (0, 1) (a fraction of the image height), got {horizon}")
        self.horizon = float(horizon)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._targets)

    def translate(self, image: np.ndarray, target: str, seed: int) -> np.ndarray:
        spec = self._targets[target]
        rng = np.random.default_rng(seed)
        img = image.astype(np.float32) / 255.0
        depth = pseudo_depth(img.shape[0], img.shape[1], self.horizon)
        out = RENDERERS[spec["kind"]](img, depth, rng, spec)
        return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "horizon": self.horizon, "targets": self._targets}
