"""Per-dataset look-up tables to Cityscapes trainIds (0..18, 255 = ignore), registered by name in data.labels.

Every table is written from shared/reference/datasets.md §2 (Cityscapes labels.py, RobustNet/HRDA, Rein,
PROVE, AutoNUE, outsideNet); each lists the ids the dataset may contain, so any other value is an error.
Registered names (the ``label_mapping`` of a dataset source):

=======================  ======================================================================
trainids                 ids already are trainIds (Cityscapes/ACDC labelTrainIds, BDD10k, IDD-AW csTrainIds)
cityscapes_labelids      Cityscapes / ACDC ``*_labelIds.png`` (0..33, lane markings 34..45 -> 255)
iddaw_level3ids          IDD ``*_labellevel3Ids.png`` (0..25, 255 void)
mapillary_v12_strict     Mapillary Vistas v1.2 (0..65), the DG literature's table (default)
mapillary_v12_rein       variant A (Rein / openseg, name-based)
mapillary_v12_prove      variant B (old PROVE)
outside15k               OUTSIDE15k (0..23), the only public table (PROVE)
=======================  ======================================================================
"""

from __future__ import annotations

from prove_lightning.data.labels import IGNORE_INDEX, CLASS_ID, LabelMapping, lut_from_pairs, register_label_mapping

C = CLASS_ID

# --- Cityscapes labelId -> trainId (cityscapesScripts labels.py); every other id in 0..33 is void.
CITYSCAPES_LABELID_TO_TRAINID: dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}
#: labelIds a gtFine / ACDC file may hold: 0..33, plus the lane-marking ids 34..45 some labels.py copies list
CITYSCAPES_KNOWN_LABELIDS: tuple[int, ...] = tuple(range(46))

# --- IDD level3Id -> trainId (derived from AutoNUE anue_labels.py, datasets.md §2.4); 255 = void.
IDD_LEVEL3_TO_TRAINID: dict[int, int] = {
    0: C["road"], 1: IGNORE_INDEX, 2: C["sidewalk"], 3: C["terrain"], 4: C["person"], 5: C["rider"],
    6: C["motorcycle"], 7: C["bicycle"], 8: IGNORE_INDEX, 9: C["car"], 10: C["truck"], 11: C["bus"],
    12: IGNORE_INDEX, 13: IGNORE_INDEX, 14: C["wall"], 15: C["fence"], 16: IGNORE_INDEX, 17: IGNORE_INDEX,
    18: C["traffic_sign"], 19: C["traffic_light"], 20: C["pole"], 21: IGNORE_INDEX, 22: C["building"],
    23: IGNORE_INDEX, 24: C["vegetation"], 25: C["sky"],
}
IDD_KNOWN_LEVEL3IDS: tuple[int, ...] = (*range(26), IGNORE_INDEX)

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

# --- OUTSIDE15k (24 classes, 0 = unlabeled) -> trainId (PROVE's OUTSIDE15K_TO_TRAINID).
OUTSIDE15K_TO_TRAINID: dict[int, int] = {
    0: IGNORE_INDEX, 1: IGNORE_INDEX, 2: C["fence"], 3: C["bicycle"], 4: IGNORE_INDEX, 5: IGNORE_INDEX,
    6: C["building"], 7: C["vegetation"], 8: C["terrain"], 9: C["terrain"], 10: IGNORE_INDEX, 11: C["person"],
    12: C["pole"], 13: C["road"], 14: C["terrain"], 15: C["sidewalk"], 16: C["traffic_sign"], 17: C["sky"],
    18: C["pole"], 19: C["traffic_light"], 20: C["building"], 21: C["vegetation"], 22: C["car"], 23: IGNORE_INDEX,
}
OUTSIDE15K_KNOWN: tuple[int, ...] = tuple(range(24))


@register_label_mapping("cityscapes_labelids")
def cityscapes_labelids() -> LabelMapping:
    return lut_from_pairs(CITYSCAPES_LABELID_TO_TRAINID, 256, known=CITYSCAPES_KNOWN_LABELIDS, name="cityscapes_labelids")


@register_label_mapping("iddaw_level3ids")
def iddaw_level3ids() -> LabelMapping:
    return lut_from_pairs(IDD_LEVEL3_TO_TRAINID, 256, known=IDD_KNOWN_LEVEL3IDS, name="iddaw_level3ids")


@register_label_mapping("mapillary_v12_strict")
def mapillary_v12_strict() -> LabelMapping:
    return lut_from_pairs(MAPILLARY_V12_STRICT, 256, known=MAPILLARY_V12_KNOWN, name="mapillary_v12_strict")


@register_label_mapping("mapillary_v12_rein")
def mapillary_v12_rein() -> LabelMapping:
    return lut_from_pairs(MAPILLARY_V12_REIN, 256, known=MAPILLARY_V12_KNOWN, name="mapillary_v12_rein")


@register_label_mapping("mapillary_v12_prove")
def mapillary_v12_prove() -> LabelMapping:
    return lut_from_pairs(MAPILLARY_V12_PROVE, 256, known=MAPILLARY_V12_KNOWN, name="mapillary_v12_prove")


@register_label_mapping("outside15k")
def outside15k() -> LabelMapping:
    return lut_from_pairs(OUTSIDE15K_TO_TRAINID, 256, known=OUTSIDE15K_KNOWN, name="outside15k")
