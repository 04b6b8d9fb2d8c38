"""Mapillary Vistas v1.2 (0..65) -> trainIds, three published variants (datasets.md §2).

``mapillary_v12_strict`` (the DG literature's table, default), ``mapillary_v12_rein`` (variant A, Rein / openseg,
name-based), ``mapillary_v12_prove`` (variant B, old PROVE).
"""

from __future__ import annotations

from prove_lightning.data.labels import LabelMapping, lut_from_pairs, register_label_mapping
from prove_lightning.labelspace import CLASS_ID, IGNORE_INDEX

C = CLASS_ID

# --- Mapillary Vistas v1.2 (ids 0..65, 65 = Unlabeled) -> trainId.
MAPILLARY_V12_STRICT: dict[int, int] = {
    13: C["road"], 24: C["road"], 41: C["road"],
    2: C["sidewalk"], 15: C["sidewalk"],
    17: C["building"], 6: C["wall"], 3: C["fence"],
    45: C["pole"], 47: C["pole"],
    48: C["traffic_light"], 50: C["traffic_sign"],
    30: C["vegetation"], 29: C["terrain"], 27: C["sky"], 19: C["person"],
    20: C["rider"], 21: C["rider"], 22: C["rider"],
    55: C["car"], 61: C["truck"], 54: C["bus"], 58: C["train"], 57: C["motorcycle"], 52: C["bicycle"],
}
#: variant A (Rein): strict + bike lane, crosswalk, parking, service lane, LM-crosswalk -> road; curb cut,
#: pedestrian area -> sidewalk; street light -> pole; sign frame, sign back -> traffic sign; manhole -> ignore
MAPILLARY_V12_REIN: dict[int, int] = {
    **MAPILLARY_V12_STRICT,
    7: C["road"], 8: C["road"], 10: C["road"], 14: C["road"], 23: C["road"],
    9: C["sidewalk"], 11: C["sidewalk"],
    44: C["pole"], 46: C["traffic_sign"], 49: C["traffic_sign"],
    41: IGNORE_INDEX,
}
#: variant B (PROVE): A, but crosswalk -> sidewalk, parking -> ignore, bridge/tunnel -> building, barrier -> wall,
#: guard rail -> fence, mountain/sand -> terrain, sign frame -> pole
MAPILLARY_V12_PROVE: dict[int, int] = {
    **MAPILLARY_V12_REIN,
    8: C["sidewalk"], 10: IGNORE_INDEX, 16: C["building"], 18: C["building"], 5: C["wall"], 4: C["fence"],
    25: C["terrain"], 26: C["terrain"], 46: C["pole"],
}
MAPILLARY_V12_KNOWN: tuple[int, ...] = tuple(range(66))


@register_label_mapping("mapillary_v12_strict")
def mapillary_v12_strict() -> LabelMapping:
    return lut_from_pairs(MAPILLARY_V12_STRICT, 256, known=MAPILLARY_V12_KNOWN, name="mapillary_v12_strict")


@register_label_mapping("mapillary_v12_rein")
def mapillary_v12_rein() -> LabelMapping:
    return lut_from_pairs(MAPILLARY_V12_REIN, 256, known=MAPILLARY_V12_KNOWN, name="mapillary_v12_rein")


@register_label_mapping("mapillary_v12_prove")
def mapillary_v12_prove() -> LabelMapping:
    return lut_from_pairs(MAPILLARY_V12_PROVE, 256, known=MAPILLARY_V12_KNOWN, name="mapillary_v12_prove")
