"""OUTSIDE15k (0..23) -> trainIds, the only public table (PROVE); registered as ``outside15k``."""

from __future__ import annotations

from prove_lightning.data.labels import LabelMapping, lut_from_pairs, register_label_mapping
from prove_lightning.labelspace import CLASS_ID, IGNORE_INDEX

C = CLASS_ID

# --- OUTSIDE15k (24 classes, 0 = unlabeled) -> trainId (PROVE's OUTSIDE15K_TO_TRAINID).
OUTSIDE15K_TO_TRAINID: dict[int, int] = {
    0: IGNORE_INDEX, 1: IGNORE_INDEX, 2: C["fence"], 3: C["bicycle"], 4: IGNORE_INDEX, 5: IGNORE_INDEX,
    6: C["building"], 7: C["vegetation"], 8: C["terrain"], 9: C["terrain"], 10: IGNORE_INDEX, 11: C["person"],
    12: C["pole"], 13: C["road"], 14: C["terrain"], 15: C["sidewalk"], 16: C["traffic_sign"], 17: C["sky"],
    18: C["pole"], 19: C["traffic_light"], 20: C["building"], 21: C["vegetation"], 22: C["car"], 23: IGNORE_INDEX,
}
OUTSIDE15K_KNOWN: tuple[int, ...] = tuple(range(24))


@register_label_mapping("outside15k")
def outside15k() -> LabelMapping:
    return lut_from_pairs(OUTSIDE15K_TO_TRAINID, 256, known=OUTSIDE15K_KNOWN, name="outside15k")
