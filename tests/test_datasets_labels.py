"""Every label table checked entry by entry against shared/reference/datasets.md §2 (and original_prove.md §2d).

The expected tables below are typed from the reference documents, class by class, independently of
src/prove_lightning/data/sources/*_labels.py; each registered mapping must agree on every id 0..255 (known ids
map as listed, every other value raises DataError naming the file and the values).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prove_lightning.data.labels import CITYSCAPES_CLASSES, get_label_mapping
from prove_lightning.errors import DataError
from prove_lightning.images import read_label

T = {name: i for i, name in enumerate(CITYSCAPES_CLASSES)}
I = 255  # noqa: E741

# §2.1 Cityscapes labelId -> trainId; ids 0..33 known, the rest of 0..33 void; 34..45 lane markings -> 255
CS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
EXPECT_CS = {i: CS.get(i, I) for i in range(46)}

# §2.4 IDD level3Id -> trainId (ids 0..25 and 255 void)
EXPECT_L3 = {
    0: T["road"], 1: I, 2: T["sidewalk"], 3: T["terrain"], 4: T["person"], 5: T["rider"], 6: T["motorcycle"],
    7: T["bicycle"], 8: I, 9: T["car"], 10: T["truck"], 11: T["bus"], 12: I, 13: I, 14: T["wall"], 15: T["fence"],
    16: I, 17: I, 18: T["traffic_sign"], 19: T["traffic_light"], 20: T["pole"], 21: I, 22: T["building"], 23: I,
    24: T["vegetation"], 25: T["sky"], 255: I,
}


def _full(pairs: dict[int, int], n: int) -> dict[int, int]:
    return {i: pairs.get(i, I) for i in range(n)}


# §2.3 Mapillary v1.2 strict (RobustNet gen_id_to_ignore = HRDA convert_to_train_id)
EXPECT_MAP_STRICT = _full({
    13: 0, 24: 0, 41: 0, 2: 1, 15: 1, 17: 2, 6: 3, 3: 4, 45: 5, 47: 5, 48: 6, 50: 7, 30: 8, 29: 9, 27: 10,
    19: 11, 20: 12, 21: 12, 22: 12, 55: 13, 61: 14, 54: 15, 58: 16, 57: 17, 52: 18,
}, 66)
# variant A (Rein): bike lane 7, crosswalk 8, parking 10, service lane 14, LM-crosswalk 23 -> road; curb cut 9,
# pedestrian area 11 -> sidewalk; street light 44 -> pole; sign frame 46, sign back 49 -> traffic sign; manhole 41 -> 255
EXPECT_MAP_REIN = _full({
    7: 0, 8: 0, 10: 0, 13: 0, 14: 0, 23: 0, 24: 0, 2: 1, 9: 1, 11: 1, 15: 1, 17: 2, 6: 3, 3: 4, 44: 5, 45: 5, 47: 5,
    48: 6, 46: 7, 49: 7, 50: 7, 30: 8, 29: 9, 27: 10, 19: 11, 20: 12, 21: 12, 22: 12, 55: 13, 61: 14, 54: 15, 58: 16,
    57: 17, 52: 18,
}, 66)
# variant B (PROVE MAPILLARY_TO_TRAINID, listed in original_prove.md §2d)
EXPECT_MAP_PROVE = _full({
    7: 0, 13: 0, 14: 0, 23: 0, 24: 0, 2: 1, 8: 1, 9: 1, 11: 1, 15: 1, 16: 2, 17: 2, 18: 2, 5: 3, 6: 3, 3: 4, 4: 4,
    44: 5, 45: 5, 46: 5, 47: 5, 48: 6, 49: 7, 50: 7, 30: 8, 25: 9, 26: 9, 29: 9, 27: 10, 19: 11, 20: 12, 21: 12, 22: 12,
    55: 13, 61: 14, 54: 15, 58: 16, 57: 17, 52: 18,
}, 66)

# §2.5 OUTSIDE15k (24) -> 19
EXPECT_OUT = {
    0: I, 1: I, 2: 4, 3: 18, 4: I, 5: I, 6: 2, 7: 8, 8: 9, 9: 9, 10: I, 11: 11, 12: 5, 13: 0, 14: 9, 15: 1, 16: 7,
    17: 10, 18: 5, 19: 6, 20: 2, 21: 8, 22: 13, 23: I,
}

# §2.2 identity (BDD10k, ACDC / Cityscapes labelTrainIds, IDD-AW csTrainIds): 0..18 and 255
EXPECT_ID = {**{i: i for i in range(19)}, 255: 255}

TABLES = {
    "cityscapes_labelids": EXPECT_CS,
    "iddaw_level3ids": EXPECT_L3,
    "mapillary_v12_strict": EXPECT_MAP_STRICT,
    "mapillary_v12_rein": EXPECT_MAP_REIN,
    "mapillary_v12_prove": EXPECT_MAP_PROVE,
    "outside15k": EXPECT_OUT,
    "trainids": EXPECT_ID,
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_matches_reference_entry_by_entry(name: str) -> None:
    expected = TABLES[name]
    m = get_label_mapping(name)
    for v in range(256):
        raw = np.array([[v, v]], np.uint8)
        if v in expected:
            assert m(raw, "f.png")[0, 0] == expected[v], f"{name}: id {v} -> {m(raw)[0, 0]}, reference {expected[v]}"
        else:
            with pytest.raises(DataError, match=rf"f\.png: label values \[{v}\] are not ids of the '{name}' label set"):
                m(raw, "f.png")
    assert m.table() == expected


def test_variants_differ_exactly_where_the_reference_says() -> None:
    diff = lambda a, b: sorted(k for k in a if a[k] != b[k])  # noqa: E731
    assert diff(EXPECT_MAP_STRICT, EXPECT_MAP_REIN) == [7, 8, 9, 10, 11, 14, 23, 41, 44, 46, 49]
    assert diff(EXPECT_MAP_REIN, EXPECT_MAP_PROVE) == [4, 5, 8, 10, 16, 18, 25, 26, 46]
    assert get_label_mapping("mapillary_v12_strict")(np.array([[65]], np.uint8))[0, 0] == 255  # Unlabeled -> ignore


def test_unknown_values_name_the_file_and_all_bad_values_and_nothing_is_clipped() -> None:
    m = get_label_mapping("trainids")
    raw = np.array([[0, 19, 200], [18, 255, 19]], np.uint8)
    with pytest.raises(DataError, match=r"x/y_label\.png: label values \[19, 200\] are not ids of the 'trainids' label set \(known: 0-18, 255\)"):
        m(raw, "x/y_label.png")


def test_16bit_ids(tmp_path: Path) -> None:
    """16-bit PNGs read as ids (none of the six formats stores semantic ids in 16 bits; Cityscapes' and
    Mapillary's instance maps do, and the adapters never pick those up: see the adapter tests)."""
    p = tmp_path / "ids16.png"
    Image.fromarray(np.array([[7, 26], [33, 0]], np.uint16)).save(p)
    raw = read_label(p)
    assert raw.dtype != np.uint8
    assert get_label_mapping("cityscapes_labelids")(raw, p).tolist() == [[0, 13], [18, 255]]
    Image.fromarray(np.array([[7, 26007]], np.uint16)).save(p)
    with pytest.raises(DataError, match=r"ids16\.png: label values \[26007\]"):
        get_label_mapping("cityscapes_labelids")(read_label(p), p)


def test_three_channel_labels_equal_channels_read_differing_channels_refused(tmp_path: Path) -> None:
    ids = np.array([[13, 6], [17, 0]], np.uint8)
    good, bad = tmp_path / "grey3.png", tmp_path / "colour.png"
    Image.fromarray(np.dstack([ids] * 3)).save(good)
    Image.fromarray(np.dstack([ids, ids + 1, ids])).save(bad)
    assert get_label_mapping("outside15k")(read_label(good), good).tolist() == [[0, 2], [10, 255]]
    with pytest.raises(DataError, match=r"colour\.png: 3-channel label whose channels differ"):
        read_label(bad)


def test_palette_png_reads_indices_not_colours(tmp_path: Path) -> None:
    ids = np.array([[13, 55], [27, 65]], np.uint8)
    im = Image.fromarray(ids, mode="P")
    im.putpalette([(7 * i) % 256 for i in range(768)])
    p = tmp_path / "pal.png"
    im.save(p)
    assert read_label(p).tolist() == ids.tolist()
    assert get_label_mapping("mapillary_v12_strict")(read_label(p), p).tolist() == [[0, 13], [10, 255]]


def test_unknown_mapping_name_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match=r"unknown label mapping 'mapillary_v20'.*mapillary_v12_strict"):
        get_label_mapping("mapillary_v20")
