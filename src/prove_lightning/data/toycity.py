"""ToyCity: procedural street scenes labelled with the 19 Cityscapes classes, rendered in all seven domains.

A scene is a layout (road in perspective, sidewalks, buildings, vegetation, poles with lights and signs,
cars, people, riders, rarer trucks/buses/trains) drawn into a trainId map; the image is then painted from
the labels with per-instance colours and texture, and a domain appearance is applied (sky, light, fog,
rain streaks, snow cover, night lights). Everything is a function of (seed, split, domain, index), so the
same seed writes the same files on any machine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.labels import CLASS_ID, IGNORE_INDEX
from prove_lightning.images import write_png
from prove_lightning.io import atomic_write_json

C = CLASS_ID
DATASET_DIR = "ToyCity"

# Base colours (RGB, clear daylight) with per-instance jitter; deliberately not the label palette.
_BASE = {
    "road": (90, 90, 96), "sidewalk": (160, 150, 140), "building": (150, 110, 90), "wall": (170, 165, 150),
    "fence": (120, 100, 70), "pole": (70, 70, 75), "traffic_light": (30, 30, 30), "traffic_sign": (230, 200, 40),
    "vegetation": (60, 120, 40), "terrain": (130, 160, 80), "sky": (110, 160, 230), "person": (180, 60, 60),
    "rider": (200, 90, 40), "car": (40, 60, 170), "truck": (200, 200, 200), "bus": (220, 150, 30),
    "train": (170, 40, 40), "motorcycle": (60, 60, 60), "bicycle": (140, 30, 140),
}


@dataclass(frozen=True)
class ToyCitySpec:
    """What to generate; the cache folder is keyed by its hash, so a changed spec never reuses stale files."""

    seed: int = 0
    height: int = 96
    width: int = 192
    n_train: int = 120
    n_test: int = 24
    domains: tuple[str, ...] = DOMAINS
    version: int = 1

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:10]


def _rng(seed: int, *parts: object) -> np.random.Generator:
    h = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


# ----------------------------------------------------------------------------------------------- layout
def render_layout(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Return (label map, depth in [0,1] with 1 = far, light sources for night) for one random scene."""
    lab = np.full((h, w), C["sky"], dtype=np.uint8)
    depth = np.ones((h, w), dtype=np.float32)
    inst = np.zeros((h, w), dtype=np.int32)  # instance ids for colour jitter
    lights: list[dict] = []
    yy, xx = np.mgrid[0:h, 0:w]
    horizon = int(h * rng.uniform(0.38, 0.5))
    vx = w * rng.uniform(0.35, 0.65)
    ground = yy >= horizon
    t = np.clip((yy - horizon) / max(h - horizon, 1), 0, 1)  # 0 at horizon, 1 at bottom
    depth[ground] = (1.0 - t[ground]) ** 1.5
    next_id = [1]

    def new_id() -> int:
        next_id[0] += 1
        return next_id[0]

    # ground: road trapezoid, sidewalks, then terrain or building base.
    road_half = 0.05 * w + t * w * rng.uniform(0.45, 0.65)
    cx = vx + (xx * 0 + t * w * rng.uniform(-0.15, 0.15))
    dx = xx - cx
    side_w = 0.02 * w + t * w * rng.uniform(0.12, 0.22)
    left_outer = rng.choice(["terrain", "sidewalk"], p=[0.6, 0.4])
    right_outer = rng.choice(["terrain", "sidewalk"], p=[0.6, 0.4])
    lab[ground & (dx < 0)] = C[left_outer]
    lab[ground & (dx >= 0)] = C[right_outer]
    lab[ground & (np.abs(dx) < road_half + side_w)] = C["sidewalk"]
    road = ground & (np.abs(dx) < road_half)
    lab[road] = C["road"]
    inst[ground] = 1

    # buildings along the horizon (back to front is irrelevant: they stand on the horizon line)
    x = 0
    while x < w:
        bw = int(rng.integers(max(4, w // 16), max(6, w // 5)))
        kind = rng.choice(["building", "building", "building", "vegetation", "gap"], p=[0.3, 0.25, 0.2, 0.15, 0.1])
        top = int(horizon - rng.uniform(0.12, 0.42) * h)
        if kind == "building":
            lab[max(top, 0):horizon, x:x + bw] = C["building"]
            bid = new_id()
            inst[max(top, 0):horizon, x:x + bw] = bid
            depth[max(top, 0):horizon, x:x + bw] = 0.9
            # lit windows at night
            for _ in range(int(rng.integers(1, 4))):
                wy = int(rng.integers(max(top, 0), max(top + 1, horizon - 2)))
                wx = int(rng.integers(x, x + max(bw - 1, 1)))
                lights.append({"y": wy, "x": wx, "r": 1.5, "color": (255, 220, 140), "strength": 0.6})
        elif kind == "vegetation":
            cy, r = horizon - rng.uniform(0.05, 0.15) * h, bw * 0.7
            m = ((yy - cy) ** 2 + ((xx - x - bw / 2) * 0.9) ** 2 < r * r) & (yy < horizon)
            lab[m] = C["vegetation"]
            inst[m] = new_id()
            depth[m] = 0.9
        x += bw

    # walls / fences along the outer sidewalk edge, low boxes standing on the ground
    for side in (-1, 1):
        if rng.random() < 0.5:
            kind = "wall" if rng.random() < 0.5 else "fence"
            y0 = int(horizon + rng.uniform(0.1, 0.4) * (h - horizon))
            tt = (y0 - horizon) / max(h - horizon, 1)
            edge = vx + side * (0.05 * w + tt * w * 0.8)
            ht = int(3 + tt * h * 0.18)
            x0, x1 = sorted([int(edge), int(edge + side * w * rng.uniform(0.15, 0.35))])
            x0, x1 = max(x0, 0), min(x1, w)
            if x1 > x0:
                region = (slice(max(y0 - ht, 0), y0), slice(x0, x1))
                lab[region] = C[kind]
                inst[region] = new_id()
                depth[region] = 1 - tt

    # objects: list of (base_y, draw fn) painted far to near
    objects: list[tuple[int, str, float]] = []
    n_obj = int(rng.integers(6, 13))
    for _ in range(n_obj):
        kind = rng.choice(
            ["car", "person", "pole", "tree", "car", "person", "truck", "bus", "rider", "train", "sign"],
            p=[0.22, 0.16, 0.14, 0.12, 0.08, 0.06, 0.05, 0.05, 0.06, 0.02, 0.04],
        )
        objects.append((int(rng.integers(horizon + 2, h + 4)), str(kind), float(rng.uniform(-1, 1))))
    objects.sort(key=lambda o: o[0])

    def box(y0: int, y1: int, x0: int, x1: int, cls: str, d: float, iid: int) -> None:
        y0, y1, x0, x1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
        if y1 > y0 and x1 > x0:
            lab[y0:y1, x0:x1] = C[cls]
            inst[y0:y1, x0:x1] = iid
            depth[y0:y1, x0:x1] = d

    def ellipse(cy: float, cx_: float, ry: float, rx: float, cls: str, d: float, iid: int) -> None:
        m = ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx_) / max(rx, 0.5)) ** 2 <= 1
        lab[m] = C[cls]
        inst[m] = iid
        depth[m] = d

    for base_y, kind, u in objects:
        tt = np.clip((base_y - horizon) / max(h - horizon, 1), 0.02, 1.2)
        s = tt * h  # pixel scale at that depth
        d = float((1 - min(tt, 1.0)) ** 1.5)
        road_center = vx + tt * w * 0.0
        half = 0.05 * w + tt * w * 0.55
        iid = new_id()
        if kind in ("car", "truck", "bus", "train"):
            size = {"car": (0.28, 0.45), "truck": (0.5, 0.6), "bus": (0.55, 0.8), "train": (0.6, 1.2)}[kind]
            bh, bw = int(max(2, size[0] * s)), int(max(3, size[1] * s))
            cxo = road_center + u * half * 0.8
            x0 = int(cxo - bw / 2)
            box(base_y - bh, base_y, x0, x0 + bw, kind, d, iid)
            if kind == "car":  # darker window band keeps the car class but adds structure
                box(base_y - bh, base_y - int(bh * 0.6), x0 + bw // 5, x0 + bw - bw // 5, "car", d, new_id())
            lights.append({"y": base_y - bh // 3, "x": x0 + 1, "r": max(1.0, s * 0.05), "color": (255, 250, 200), "strength": 1.0})
            lights.append({"y": base_y - bh // 3, "x": x0 + bw - 2, "r": max(1.0, s * 0.05), "color": (255, 250, 200), "strength": 1.0})
        elif kind in ("person", "rider"):
            side = -1 if u < 0 else 1
            off = half + (0.02 * w + tt * w * 0.15) * abs(u) if kind == "person" else half * abs(u) * 0.8
            cxo = road_center + side * off
            ph, pw = max(3, 0.55 * s), max(1.5, 0.12 * s)
            if kind == "rider":
                vehicle = "bicycle" if u > 0 else "motorcycle"
                box(int(base_y - ph * 0.35), base_y, int(cxo - pw * 1.6), int(cxo + pw * 1.6), vehicle, d, new_id())
                base_off = ph * 0.25
            else:
                base_off = 0
            box(int(base_y - base_off - ph * 0.8), int(base_y - base_off), int(cxo - pw / 2), int(cxo + pw / 2 + 1), kind, d, iid)
            ellipse(base_y - base_off - ph * 0.88, cxo, ph * 0.11, pw * 0.5, kind, d, iid)
        elif kind in ("pole", "sign"):
            side = -1 if u < 0 else 1
            cxo = road_center + side * (half + 0.01 * w + tt * w * 0.1)
            ph, pw = max(5, 0.9 * s), max(1, int(0.04 * s))
            box(int(base_y - ph), base_y, int(cxo), int(cxo + pw), "pole", d, iid)
            top = int(base_y - ph)
            if kind == "sign" or rng.random() < 0.4:
                sz = max(2, int(0.12 * s))
                box(top, top + sz, int(cxo - sz // 2), int(cxo + sz // 2 + 1), "traffic_sign", d, new_id())
            else:
                lh, lw = max(3, int(0.2 * s)), max(2, int(0.08 * s))
                box(top, top + lh, int(cxo - lw // 2), int(cxo + lw // 2 + 1), "traffic_light", d, new_id())
                lights.append({"y": top + lh // 4, "x": int(cxo), "r": max(1.0, lw * 0.5), "color": (255, 60, 40), "strength": 0.9})
            lights.append({"y": top, "x": int(cxo), "r": max(2.0, s * 0.12), "color": (255, 230, 170), "strength": 0.8})
        elif kind == "tree":
            side = -1 if u < 0 else 1
            cxo = road_center + side * (half + 0.02 * w + tt * w * 0.2 * (1 + abs(u)))
            th = max(4, 0.9 * s)
            box(int(base_y - th * 0.5), base_y, int(cxo), int(cxo + max(1, 0.05 * s)), "vegetation", d, iid)
            ellipse(base_y - th * 0.75, cxo, th * 0.3, th * 0.28, "vegetation", d, iid)
    return lab, depth, lights


# --------------------------------------------------------------------------------------------- painting
def paint(lab: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Daylight colours from the label map with per-class jitter and pixel texture (float32 0..1)."""
    h, w = lab.shape
    lut = np.zeros((256, 3), dtype=np.float32)
    for name, rgb in _BASE.items():
        jitter = rng.normal(0, 12, size=3)
        lut[C[name]] = np.clip(np.array(rgb) + jitter, 0, 255) / 255.0
    img = lut[lab]
    # per-class brightness texture: smooth noise + fine grain
    coarse = rng.normal(0, 1, size=(h // 8 + 2, w // 8 + 2)).astype(np.float32)
    coarse = np.kron(coarse, np.ones((8, 8), dtype=np.float32))[:h, :w]
    grain = rng.normal(0, 1, size=(h, w)).astype(np.float32)
    img = img * (1 + 0.06 * coarse[..., None] + 0.04 * grain[..., None])
    # lane markings on the road (still labelled road) and building windows
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = (lab == C["road"]) & ((yy // 4) % 3 == 0) & (np.abs(xx - np.median(np.nonzero(lab == C["road"])[1] if (lab == C["road"]).any() else w / 2)) < 1.2)
    img[stripes] = 0.9
    win = (lab == C["building"]) & ((yy % 6) < 2) & ((xx % 5) < 2)
    img[win] *= 0.55
    return np.clip(img, 0, 1)


def _sky_gradient(h: int, w: int, top: tuple, bottom: tuple) -> np.ndarray:
    a = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    return (np.array(top, np.float32) * (1 - a) + np.array(bottom, np.float32) * a) / 255.0 * np.ones((1, w, 1), np.float32)


def _glow(h: int, w: int, lights: list[dict], scale: float) -> np.ndarray:
    out = np.zeros((h, w, 3), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    for li in lights:
        r = li["r"] * scale
        g = np.exp(-(((yy - li["y"]) ** 2 + (xx - li["x"]) ** 2) / (2 * r * r))) * li["strength"]
        out += g[..., None] * (np.array(li["color"], np.float32) / 255.0)
    return out


def apply_domain(img: np.ndarray, lab: np.ndarray, depth: np.ndarray, lights: list[dict], domain: str, rng: np.random.Generator) -> np.ndarray:
    """Turn a daylight painting into one of the seven domains (labels unchanged)."""
    h, w = lab.shape
    sky = lab == C["sky"]
    gray = img.mean(axis=2, keepdims=True)
    if domain == "clear_day":
        img[sky] = _sky_gradient(h, w, (70, 130, 230), (170, 210, 250))[sky]
        out = img * rng.uniform(0.95, 1.1)
    elif domain == "cloudy":
        img[sky] = _sky_gradient(h, w, (150, 155, 165), (200, 200, 205))[sky]
        clouds = rng.normal(0, 1, size=(h // 6 + 2, w // 6 + 2))
        clouds = np.kron(clouds, np.ones((6, 6)))[:h, :w, None].astype(np.float32)
        img[sky] = np.clip(img + 0.06 * clouds, 0, 1)[sky]
        out = (0.6 * img + 0.4 * gray) * 0.85 + 0.04
    elif domain == "dawn_dusk":
        img[sky] = _sky_gradient(h, w, (60, 50, 110), (250, 150, 80))[sky]
        out = img * np.array([1.05, 0.75, 0.6], np.float32) * 0.65
        out += 0.4 * _glow(h, w, lights, 1.0)
    elif domain == "foggy":
        img[sky] = _sky_gradient(h, w, (190, 195, 200), (215, 218, 220))[sky]
        beta = rng.uniform(2.5, 4.0)
        trans = np.exp(-beta * depth)[..., None] * 0.9 + 0.05
        fog = np.array([0.82, 0.84, 0.86], np.float32)
        out = img * trans + fog * (1 - trans)
    elif domain == "night":
        img[sky] = _sky_gradient(h, w, (5, 5, 20), (20, 22, 40))[sky]
        out = img * np.array([0.16, 0.16, 0.22], np.float32) + 0.8 * _glow(h, w, lights, 1.2)
        out *= 1 + 0.15 * rng.normal(0, 1, size=(h, w, 1)).astype(np.float32)
    elif domain == "rainy":
        img[sky] = _sky_gradient(h, w, (110, 115, 125), (150, 155, 160))[sky]
        out = (0.55 * img + 0.45 * gray) * 0.7
        ground = (lab == C["road"]) | (lab == C["sidewalk"])
        out[ground] += 0.12 * rng.random((int(ground.sum()), 1)).astype(np.float32)  # wet sheen
        streaks = np.zeros((h, w), np.float32)
        n = int(h * w * 0.02)
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        for k in range(6):
            streaks[np.clip(ys + k, 0, h - 1), np.clip(xs + k // 3, 0, w - 1)] = 0.35
        out += streaks[..., None]
    elif domain == "snowy":
        img[sky] = _sky_gradient(h, w, (180, 185, 195), (225, 228, 232))[sky]
        cover = np.isin(lab, [C["road"], C["sidewalk"], C["terrain"], C["vegetation"], C["building"], C["wall"]])
        amount = np.where(np.isin(lab, [C["road"]]), 0.55, 0.8)[..., None] * (0.8 + 0.2 * rng.random((h, w, 1)))
        white = np.array([0.93, 0.94, 0.97], np.float32)
        out = np.where(cover[..., None], img * (1 - amount) + white * amount, img * 0.85)
        n = int(h * w * 0.015)
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        out[ys, xs] = 1.0
    else:
        raise ValueError(f"unknown domain {domain}")
    return (np.clip(out, 0, 1) * 255).astype(np.uint8)


def render_scene(seed: int, split: str, domain: str, index: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """One (RGB uint8, trainId uint8) pair; layouts differ per split/domain/index, appearance per domain."""
    rng = _rng(seed, split, domain, index)
    lab, depth, lights = render_layout(rng, h, w)
    img = paint(lab, rng)
    return apply_domain(img, lab, depth, lights, domain, rng), lab


# ------------------------------------------------------------------------------------------------ cache
def ensure_toycity(root: str | Path, spec: ToyCitySpec) -> Path:
    """Write ToyCity for ``spec`` under ``root/<spec hash>/`` in the stratified layout (once; safe with concurrent callers)."""
    base = Path(root) / f"{spec.key()}"
    done = base / "toycity.json"
    if done.exists():
        return base
    base.mkdir(parents=True, exist_ok=True)
    with FileLock(str(base) + ".lock"):
        if done.exists():
            return base
        counts = {}
        for split, n in (("train", spec.n_train), ("test", spec.n_test)):
            for domain in spec.domains:
                for i in range(n):
                    img, lab = render_scene(spec.seed, split, domain, i, spec.height, spec.width)
                    name = f"toycity_{split}_{domain}_{i:05d}.png"
                    write_png(base / split / "images" / DATASET_DIR / domain / name, img)
                    write_png(base / split / "labels" / DATASET_DIR / domain / name, lab)
                counts[f"{split}/{domain}"] = n
        atomic_write_json(done, {"spec": asdict(spec), "counts": counts, "ignore_index": IGNORE_INDEX})
    return base
