"""IDD-AW level3Ids -> trainIds (AutoNUE anue_labels.py; datasets.md §2.4); registered as ``iddaw_level3ids``."""

from __future__ import annotations

from prove_lightning.data.labels import LabelMapping, lut_from_pairs, register_label_mapping
from prove_lightning.labelspace import CLASS_ID, IGNORE_INDEX

C = CLASS_ID

# --- IDD level3Id -> trainId (derived from AutoNUE anue_labels.py, datasets.md §2.4); 255 = void.
IDD_LEVEL3_TO_TRAINID: dict[int, int] = {
    0: C["road"], 1: IGNORE_INDEX, 2: C["sidewalk"], 3: C["terrain"], 4: C["person"], 5: C["rider"],
    6: C["motorcycle"], 7: C["bicycle"], 8: IGNORE_INDEX, 9: C["car"], 10: C["truck"], 11: C["bus"],
    12: IGNORE_INDEX, 13: IGNORE_INDEX, 14: C["wall"], 15: C["fence"], 16: IGNORE_INDEX, 17: IGNORE_INDEX,
    18: C["traffic_sign"], 19: C["traffic_light"], 20: C["pole"], 21: IGNORE_INDEX, 22: C["building"],
    23: IGNORE_INDEX, 24: C["vegetation"], 25: C["sky"],
}
IDD_KNOWN_LEVEL3IDS: tuple[int, ...] = (*range(26), IGNORE_INDEX)


@register_label_mapping("iddaw_level3ids")
def iddaw_level3ids() -> LabelMapping:
    return lut_from_pairs(IDD_LEVEL3_TO_TRAINID, 256, known=IDD_KNOWN_LEVEL3IDS, name="iddaw_level3ids")
