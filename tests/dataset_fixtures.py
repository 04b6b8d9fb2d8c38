"""Tiny dataset trees in each dataset's official layout, written by test code (no dataset is downloadable here).

Real folder structure and file names, real encodings: 8-bit id PNGs, Cityscapes' 16-bit instanceIds and
RGBA colour files beside the ids, Mapillary's palette PNGs (P mode) and 16-bit instance PNGs, BDD JPEG
images with trainId masks and detection attribute JSONs, IDD-AW rgb/nir/gtSeg with polygons beside the
masks, OUTSIDE15k .odgt lists, and the old pipeline's stratified tree (OUTSIDE15k there with 3-channel labels).
Images are H x W = 32 x 64. Labels are drawn in trainId space and encoded to each dataset's raw ids with
an inverse of the reference tables written here (from datasets.md), not with the implementation's tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

H, W = 32, 64
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, PERSON, CAR, POLE = 0, 1, 2, 8, 10, 11, 13, 5

# raw id to write for each trainId used in the scenes, per encoding (datasets.md §2), and a void id
ENCODINGS: dict[str, tuple[dict[int, int], int]] = {
    "trainids": ({t: t for t in range(19)}, 255),
    "cityscapes_labelids": ({ROAD: 7, SIDEWALK: 8, BUILDING: 11, POLE: 17, VEGETATION: 21, SKY: 23, PERSON: 24, CAR: 26}, 1),  # 1 = ego vehicle
    "iddaw_level3ids": ({ROAD: 0, SIDEWALK: 2, BUILDING: 22, POLE: 20, VEGETATION: 24, SKY: 25, PERSON: 4, CAR: 9}, 255),
    "mapillary_v12": ({ROAD: 13, SIDEWALK: 15, BUILDING: 17, POLE: 45, VEGETATION: 30, SKY: 27, PERSON: 19, CAR: 55}, 65),  # 65 = Unlabeled
    "outside15k": ({ROAD: 13, SIDEWALK: 15, BUILDING: 6, POLE: 12, VEGETATION: 21, SKY: 17, PERSON: 11, CAR: 22}, 0),  # 0 = unlabeled
}
PALETTE = np.array([(128, 64, 128), (244, 35, 232), (70, 70, 70), (0, 0, 0), (0, 0, 0), (153, 153, 153), (0, 0, 0), (0, 0, 0),
                    (107, 142, 35), (0, 0, 0), (70, 130, 180), (220, 20, 60), (0, 0, 0), (0, 0, 142)] + [(0, 0, 0)] * 242, dtype=np.uint8)


def scene(seed: int) -> np.ndarray:
    """A trainId map: sky, buildings, vegetation, a pole, sidewalk, road, a car and a person, a void strip."""
    rng = np.random.default_rng(seed)
    lab = np.full((H, W), SKY, np.uint8)
    lab[8:20] = BUILDING
    lab[8:20, int(rng.integers(40, 56)):] = VEGETATION
    lab[20:24] = SIDEWALK
    lab[24:] = ROAD
    x = int(rng.integers(4, 30))
    lab[18:28, x : x + 14] = CAR
    px = int(rng.integers(34, 50))
    lab[14:26, px : px + 4] = PERSON
    lab[4:24, 60:62] = POLE
    lab[30:] = 255
    return lab


def picture(lab: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    img = PALETTE[lab].astype(np.int16) + rng.integers(-20, 21, (*lab.shape, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(lab: np.ndarray, encoding: str) -> np.ndarray:
    table, void = ENCODINGS[encoding]
    lut = np.full(256, void, np.uint8)
    for t, raw in table.items():
        lut[t] = raw
    return lut[lab]


def save(path: Path, array: np.ndarray, **kw) -> Path:  # noqa: ANN003
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, **kw).save(path)
    return path


def save_palette(path: Path, ids: np.ndarray) -> Path:
    """A palette ('P' mode) PNG whose pixel values are the class ids, like Mapillary's labels."""
    im = Image.fromarray(ids, mode="P")
    pal = np.random.default_rng(0).integers(0, 256, (256, 3), dtype=np.uint8)
    im.putpalette(pal.ravel().tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def save_16bit(path: Path, ids: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(ids.astype(np.uint16)).save(path)
    return path


# ------------------------------------------------------------------------------------------- Cityscapes
CITIES = {"train": ["aachen", "bochum"], "val": ["frankfurt", "lindau", "munster"], "test": ["berlin"]}


def make_cityscapes(root: Path, per_city: int = 2) -> Path:
    n = 0
    for split, cities in CITIES.items():
        for city in cities:
            for i in range(per_city):
                stem = f"{city}_{i:06d}_{19 + 7 * i:06d}"
                lab = scene(n)
                save(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", picture(lab, n))
                n += 1
                if split == "test":
                    continue  # test GT is withheld
                gt = root / "gtFine" / split / city
                save(gt / f"{stem}_gtFine_labelIds.png", encode(lab, "cityscapes_labelids"))
                save(gt / f"{stem}_gtFine_labelTrainIds.png", lab)
                save_16bit(gt / f"{stem}_gtFine_instanceIds.png", encode(lab, "cityscapes_labelids").astype(np.uint16) * 1000 + 1)
                save(gt / f"{stem}_gtFine_color.png", np.dstack([PALETTE[lab], np.full(lab.shape, 255, np.uint8)]), mode="RGBA")
                (gt / f"{stem}_gtFine_polygons.json").write_text(json.dumps({"imgHeight": H, "imgWidth": W, "objects": []}))
    return root


# ------------------------------------------------------------------------------------------------- ACDC
ACDC_CONDITIONS = ("fog", "night", "rain", "snow")


def make_acdc(root: Path, n_train: int = 2, n_val: int = 1) -> Path:
    n = 100
    for cond in ACDC_CONDITIONS:
        for split, k in (("train", n_train), ("val", n_val), ("test", 1)):
            seq = f"GOPR0{475 + ACDC_CONDITIONS.index(cond)}"
            for i in range(k):
                stem = f"{seq}_frame_{41 + 13 * i + (100 if split != 'train' else 0):06d}"
                lab = scene(n)
                save(root / "rgb_anon" / cond / split / seq / f"{stem}_rgb_anon.png", picture(lab, n))
                save(root / "rgb_anon" / cond / f"{split}_ref" / seq / f"{stem}_rgb_ref_anon.png", picture(lab, n + 1))
                n += 1
                if split == "test":
                    continue
                gt = root / "gt" / cond / split / seq
                save(gt / f"{stem}_gt_labelTrainIds.png", lab)
                save(gt / f"{stem}_gt_labelIds.png", encode(lab, "cityscapes_labelids"))
                save(gt / f"{stem}_gt_labelColor.png", PALETTE[lab])
                save(gt / f"{stem}_gt_invIds.png", np.zeros(lab.shape, np.uint8))
    return root


# ----------------------------------------------------------------------------------------------- BDD10k
#: (weather, timeofday) for the tagged images, and the domain datasets.md §3's precedence gives them
BDD_TAGS = [
    (("clear", "daytime"), "clear_day"), (("overcast", "daytime"), "cloudy"), (("partly cloudy", "daytime"), "cloudy"),
    (("rainy", "daytime"), "rainy"), (("snowy", "night"), "night"), (("foggy", "dawn/dusk"), "foggy"),
    (("clear", "dawn/dusk"), "dawn_dusk"), (("clear", "night"), "night"), (("rainy", "dawn/dusk"), "rainy"),
]
#: images the attribute files leave untagged: not in 100K, or 'undefined'
BDD_UNTAGGED = [None, ("undefined", "daytime"), ("clear", "undefined")]


def bdd_name(i: int) -> str:
    rng = np.random.default_rng(i + 7)
    return f"{rng.integers(0, 16**8):08x}-{rng.integers(0, 16**8):08x}"


def make_bdd10k(root: Path) -> tuple[Path, dict[str, str | None]]:
    """bdd100k/ tree; returns (root, {image name: expected domain or None if untagged})."""
    expected: dict[str, str | None] = {}
    frames: dict[str, list[dict]] = {"train": [], "val": []}
    # train: 7 tagged + 2 untagged; val: 2 tagged + 1 untagged
    untagged = [(t, None) for t in BDD_UNTAGGED]
    tags = BDD_TAGS[:7] + untagged[:2] + BDD_TAGS[7:] + untagged[2:]
    n = 200
    for split, idx in (("train", range(0, 9)), ("val", range(9, 12)), ("test", range(12, 13))):
        for i in idx:
            name = bdd_name(i)
            lab = scene(n)
            save(root / "images" / "10k" / split / f"{name}.jpg", picture(lab, n), mode="RGB")
            n += 1
            if split == "test":
                continue
            save(root / "labels" / "sem_seg" / "masks" / split / f"{name}.png", lab)
            save(root / "labels" / "sem_seg" / "colormaps" / split / f"{name}.png", PALETTE[lab])
            wt, dom = tags[i % len(tags)]
            expected[f"{name}.jpg"] = dom
            if wt is not None:
                frames[split].append({"name": f"{name}.jpg", "attributes": {"weather": wt[0], "scene": "city street", "timeofday": wt[1]}, "labels": [{"category": "car", "box2d": {"x1": 1, "y1": 2, "x2": 3, "y2": 4}}]})
    # a 100K-only frame, absent from 10K, as in the real files
    frames["train"].append({"name": "ffffffff-00000000.jpg", "attributes": {"weather": "clear", "scene": "highway", "timeofday": "daytime"}, "labels": []})
    det = root / "labels" / "det_20"
    det.mkdir(parents=True, exist_ok=True)
    for split, fr in frames.items():
        (det / f"det_{split}.json").write_text(json.dumps(fr, indent=1))
    for split in ("train", "val"):
        (root / "labels" / "sem_seg" / "polygons").mkdir(parents=True, exist_ok=True)
        (root / "labels" / "sem_seg" / "polygons" / f"sem_seg_{split}.json").write_text("[]")
    return root, expected


# ----------------------------------------------------------------------------------------------- IDD-AW
IDD_CONDITIONS = {"FOG": "foggy", "LOWLIGHT": "night", "RAIN": "rainy", "SNOW": "snowy"}


def make_iddaw(root: Path, label_types: tuple[str, ...] = ("csTrainId", "level3Id"), per_split: dict[str, int] | None = None) -> Path:
    per_split = per_split or {"train": 2, "val": 1}
    n = 300
    for split, k in per_split.items():
        for c, cond in enumerate(IDD_CONDITIONS):
            seq = f"{10024 + 3 * c}"
            for i in range(k):
                frame = f"{seq}_{i + (50 if split == 'val' else 0):07d}"
                lab = scene(n)
                base = root / split / cond
                save(base / "rgb" / seq / f"{frame}_rgb.png", picture(lab, n))
                save(base / "nir" / seq / f"{frame}_nir.png", picture(lab, n)[..., 0])
                n += 1
                gt = base / "gtSeg" / seq
                gt.mkdir(parents=True, exist_ok=True)
                (gt / f"{frame}_mask.json").write_text(json.dumps({"imgHeight": H, "imgWidth": W, "objects": [{"label": "road", "polygon": [[0, 24], [63, 24], [63, 31], [0, 31]]}]}))
                if "csTrainId" in label_types:
                    save(gt / f"{frame}_labelcsTrainIds.png", lab)
                if "level3Id" in label_types:
                    save(gt / f"{frame}_labellevel3Ids.png", encode(lab, "iddaw_level3ids"))
    return root


# -------------------------------------------------------------------------------------------- Mapillary
def mapillary_key(i: int) -> str:
    rng = np.random.default_rng(i + 11)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"))
    return "".join(rng.choice(alphabet, 22))


def make_mapillary(root: Path, layout: str = "v1.2") -> tuple[Path, list[str]]:
    """v1.2 zip layout or the v2.0 zip layout (v1.2/ and v2.0/ label folders); returns (root, image keys)."""
    keys = []
    n = 400
    for split, k in (("training", 6), ("validation", 3), ("testing", 1)):
        for i in range(k):
            key = mapillary_key(n)
            keys.append(key)
            lab = scene(n)
            save(root / split / "images" / f"{key}.jpg", picture(lab, n), mode="RGB")
            n += 1
            if split == "testing":
                continue
            ids = encode(lab, "mapillary_v12")
            inst = ids.astype(np.uint16) * 256 + 1
            if layout == "v1.2":
                save_palette(root / split / "labels" / f"{key}.png", ids)
                save_16bit(root / split / "instances" / f"{key}.png", inst)
            else:
                save_palette(root / split / "v1.2" / "labels" / f"{key}.png", ids)
                save_16bit(root / split / "v1.2" / "instances" / f"{key}.png", inst)
                save_palette(root / split / "v2.0" / "labels" / f"{key}.png", (ids.astype(np.int32) + 50).clip(0, 123).astype(np.uint8))
                save_16bit(root / split / "v2.0" / "instances" / f"{key}.png", inst)
    if layout == "v1.2":
        (root / "config.json").write_text(json.dumps({"labels": [{"name": f"class{i}", "readable": f"Class {i}"} for i in range(66)]}))
    else:
        for v, nc in (("v1.2", 66), ("v2.0", 124)):
            (root / f"config_{v}.json").write_text(json.dumps({"labels": [{"name": f"class{i}"} for i in range(nc)]}))
    return root, keys


# ------------------------------------------------------------------------------------------- OUTSIDE15k
def make_outside15k(root: Path) -> tuple[Path, list[str]]:
    """ADE20K-style lists outside15k_{train,val}.odgt with images/ and annotations/; returns (root, image paths)."""
    paths = []
    n = 500
    for split, folder, k in (("train", "training", 6), ("val", "validation", 3)):
        lines = []
        for i in range(k):
            stem = f"OUTSIDE15k_{folder}_{i + 1:08d}"
            lab = scene(n)
            img_rel, seg_rel = f"images/{folder}/{stem}.jpg", f"annotations/{folder}/{stem}.png"
            save(root / img_rel, picture(lab, n), mode="RGB")
            save(root / seg_rel, encode(lab, "outside15k"))
            n += 1
            lines.append(json.dumps({"fpath_img": img_rel, "fpath_segm": seg_rel, "width": W, "height": H}))
            paths.append(img_rel)
        (root / f"outside15k_{split}.odgt").write_text("\n".join(lines) + "\n")
    return root, paths


def write_domain_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("image,domain\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return path


# ------------------------------------------------------------------------------------------- stratified
STRATIFIED = {
    # dataset dir: (encoding, image ext, image suffix, label suffix, label writer)
    "BDD10k": ("trainids", ".jpg", "", "", "L"),
    "IDD-AW": ("trainids", ".png", "", "", "L"),
    "MapillaryVistas": ("mapillary_v12", ".jpg", "", "", "P"),
    "OUTSIDE15k": ("outside15k", ".jpg", "", "", "RGB"),
    "ACDC": ("cityscapes_labelids", ".png", "_rgb_anon", "_gt_labelIds", "L"),
    "Cityscapes": ("trainids", ".png", "_leftImg8bit", "_gtFine_labelTrainIds", "L"),
}


def make_stratified(root: Path, datasets: tuple[str, ...] = tuple(STRATIFIED), domains: tuple[str, ...] = ("clear_day", "night", "foggy")) -> Path:
    n = 600
    for ds in datasets:
        enc, ext, isuf, lsuf, mode = STRATIFIED[ds]
        for split, k in (("train", 3), ("test", 1)):
            for dom in domains:
                for i in range(k):
                    stem = f"{ds.lower()}_{dom}_{split}_{i:04d}"
                    lab = scene(n)
                    save(root / split / "images" / ds / dom / f"{stem}{isuf}{ext}", picture(lab, n), mode="RGB")
                    n += 1
                    ids = encode(lab, enc)
                    lp = root / split / "labels" / ds / dom / f"{stem}{lsuf}.png"
                    if mode == "P":
                        save_palette(lp, ids)
                    elif mode == "RGB":
                        save(lp, np.dstack([ids, ids, ids]), mode="RGB")  # 3-channel copy, as the old pipeline's tree has
                    else:
                        save(lp, ids)
    return root


# ----------------------------------------------------------------------------------------- all of them
def build_all(root: Path) -> dict[str, list[str]]:
    """Every good fixture tree under ``root``; {case: Hydra overrides that point the dataset config at it}."""
    make_cityscapes(root / "cityscapes")
    make_acdc(root / "acdc")
    _, bdd_expected = make_bdd10k(root / "bdd100k")
    write_domain_csv(root / "bdd_domains.csv", [(name, "clear_day") for name, dom in bdd_expected.items() if dom is None])
    make_iddaw(root / "IDDAW")
    make_iddaw(root / "IDDAW_level3", label_types=("level3Id",))
    _, keys = make_mapillary(root / "mapillary_vistas")
    write_domain_csv(root / "mapillary_domains.csv", [(k, ("clear_day", "night", "rainy")[i % 3]) for i, k in enumerate(keys)])
    _, keys20 = make_mapillary(root / "mapillary_v2", layout="v2.0")
    write_domain_csv(root / "mapillary_v2_domains.csv", [(f"{k}.jpg", ("cloudy", "snowy")[i % 2]) for i, k in enumerate(keys20)])
    _, paths = make_outside15k(root / "OUTSIDE15k")
    write_domain_csv(root / "outside15k_domains.csv", [(p, ("clear_day", "dawn_dusk")[i % 2]) for i, p in enumerate(paths)])
    make_stratified(root / "FINAL_SPLITS")
    cases = {
        "cityscapes": ["dataset=cityscapes", f"paths.cityscapes_root={root}/cityscapes"],
        "cityscapes_trainids": ["dataset=cityscapes", f"paths.cityscapes_root={root}/cityscapes", "dataset.source.label_type=labelTrainIds"],
        "acdc": ["dataset=acdc", f"paths.acdc_root={root}/acdc"],
        "acdc_labelids": ["dataset=acdc", f"paths.acdc_root={root}/acdc", "dataset.source.label_type=labelIds"],
        "bdd10k": ["dataset=bdd10k", f"paths.bdd10k_root={root}/bdd100k", f"dataset.source.domain_csv={root}/bdd_domains.csv", f"paths.cache_root={root}/cache"],
        "iddaw": ["dataset=iddaw", f"paths.iddaw_root={root}/IDDAW"],
        "iddaw_level3": ["dataset=iddaw", f"paths.iddaw_root={root}/IDDAW_level3"],
        "mapillary": ["dataset=mapillary", f"paths.mapillary_root={root}/mapillary_vistas", f"dataset.source.domain_csv={root}/mapillary_domains.csv"],
        "mapillary_v2": ["dataset=mapillary", f"paths.mapillary_root={root}/mapillary_v2", f"dataset.source.domain_csv={root}/mapillary_v2_domains.csv", "dataset.label_variant=rein"],
        "outside15k": ["dataset=outside15k", f"paths.outside15k_root={root}/OUTSIDE15k", f"dataset.source.domain_csv={root}/outside15k_domains.csv"],
    }
    for ds in ("bdd10k", "iddaw", "mapillary", "outside15k", "acdc", "cityscapes"):
        cases[f"{ds}_stratified"] = [f"dataset={ds}_stratified", f"paths.stratified_root={root}/FINAL_SPLITS"]
    return cases


def source_for(overrides: list[str]):  # noqa: ANN201
    """The dataset adapter a run with these overrides would build."""
    from prove_lightning.config import compose, instantiate

    cfg = compose("train", overrides)
    return instantiate(cfg.dataset.source)
