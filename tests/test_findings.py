"""Findings statistics and analyses on hand-computed cases (tests/findings_data.py holds the table)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from findings_data import hand_rows, per_image, write_csv, write_store_with_matrices
from prove_lightning.cli import main as cli
from prove_lightning.evaluation.per_image import read_per_image, write_per_image
from prove_lightning.findings.analyses.base import spearman
from prove_lightning.findings.analyses.scratch_vs_pretrained import reversal
from prove_lightning.findings.bootstrap import Bootstrap, miou_from_sums, significance
from prove_lightning.findings.config import baseline_stages, family_of, findings_config
from prove_lightning.findings.leaderboard import leaderboard
from prove_lightning.findings.rows import Rows, exclude, prepare


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("findings") / "rows.csv")


def run_json(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert cli(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------ statistics
def test_miou_from_sums_by_hand():
    # class 0: tp 2, gt 4, pred 2 -> IoU 2/4; class 1: tp 1, gt 1, pred 3 -> 1/3; class 2 absent (union 0) -> not counted
    tp, gt, pred = np.array([2.0, 1, 0]), np.array([4.0, 1, 0]), np.array([2.0, 3, 0])
    assert miou_from_sums(tp, gt, pred) == pytest.approx(100 * (0.5 + 1 / 3) / 2)
    # gt_present: a class predicted but absent from the ground truth does not count
    assert miou_from_sums(np.array([0.0, 1]), np.array([0.0, 1]), np.array([5.0, 1]), "gt_present") == pytest.approx(100.0)


def test_spearman_with_ties_and_reversals():
    # ranks x = 1, 2.5, 2.5, 4; y = 1, 3, 2, 4 -> Pearson of the ranks = 4.5 / sqrt(4.5 * 5)
    rho, p = spearman([1, 2, 2, 3], [1, 3, 2, 4])
    assert rho == pytest.approx(4.5 / np.sqrt(22.5))
    assert 0 < p < 1
    assert reversal(1.0, -0.5) and not reversal(0.0, 1.0) and not reversal(2.0, 1.0)
    assert np.isnan(spearman([1, 2], [2, 1])[0])  # fewer than 3 pairs: no rho


def _boot_store(tmp_path: Path, runs: dict[str, np.ndarray], domains: list[str]) -> pd.DataFrame:
    rows = []
    ids = [f"img{i:03d}" for i in range(len(domains))]
    for run, cms in runs.items():
        rd = tmp_path / run
        write_per_image(rd / "test" / "step_10" / "t.npz", ids, domains, cms, [str(i) for i in range(cms.shape[1])])
        for d in ["all", *sorted(set(domains))]:
            m = cms if d == "all" else cms[np.array(domains) == d]
            s = m.sum(0)
            tp = np.diag(s)
            rows.append({"run_id": run, "step": 10, "test_dataset": "t", "domain": d, "run_dir": str(rd),
                         "mIoU": float(miou_from_sums(tp, s.sum(1), s.sum(0)))})
    return pd.DataFrame(rows)


def test_bootstrap_identical_runs_interval_is_zero(tmp_path):
    cms = per_image(40, 4, 0.6, seed=1)
    domains = ["clear_day"] * 20 + ["night"] * 20
    df = _boot_store(tmp_path, {"a": cms, "b": cms.copy()}, domains)
    boot = Bootstrap(1000, seed=0)
    boot.add_tests(df, None)
    gains = boot.side([("a", 10, "t", "all")]) - boot.side([("b", 10, "t", "all")])
    lo, hi, p = boot.interval(gains)
    assert (lo, hi, p) == (0.0, 0.0, 1.0)
    assert significance(lo, hi) == "ns"
    # the resampled mIoU is a real recomputation: it varies, centred near the full-sample value
    a = boot.samples[("a", 10, "t", "all")]
    assert a.std() > 0 and abs(np.median(a) - df.query("run_id == 'a' and domain == 'all'")["mIoU"].iloc[0]) < 2
    assert read_per_image(tmp_path / "a" / "test" / "step_10" / "t.npz")["cm"].shape == (40, 4, 4)


def test_bootstrap_clearly_better_run_interval_above_zero(tmp_path):
    domains = ["clear_day"] * 30 + ["night"] * 30
    df = _boot_store(tmp_path, {"good": per_image(60, 4, 0.9, seed=2), "base": per_image(60, 4, 0.4, seed=3)}, domains)
    boot = Bootstrap(1000, seed=0)
    boot.add_tests(df, None)
    for d in ("all", "night"):
        lo, hi, p = boot.interval(boot.side([("good", 10, "t", d)]) - boot.side([("base", 10, "t", d)]))
        assert 0 < lo < hi and p < 0.01 and significance(lo, hi) == ""
    assert boot.interval(None) != boot.interval(None)  # NaNs: no per-image matrices, no interval


def test_bootstrap_p_value_and_interval_agree_by_hand():
    """p = 2 min(share <= 0, share >= 0), floored at 1/R; interval = order statistics: they agree at the border."""
    boot = Bootstrap(1000)
    g = np.arange(1, 1001, dtype=float)  # gains 1..1000
    for k in (24, 25, 26):  # k of the 1000 gains set <= 0
        x = g.copy()
        x[:k] = -1.0
        lo, hi, p = boot.interval(x)
        assert p == pytest.approx(2 * k / 1000)
        assert lo == (-1.0 if k >= 25 else 25.0) and hi == 976.0  # the 25th smallest and 25th largest
        assert (significance(lo, hi) == "") == (k < 25) and (p < 0.05) == (k < 25)
    assert boot.interval(g)[2] == pytest.approx(1 / 1000)  # never 0: floored at 1 / R
    assert boot.interval(np.zeros(1000))[2] == 1.0


def test_bootstrap_is_seeded_and_pairs_same_images(tmp_path):
    domains = ["night"] * 25
    df = _boot_store(tmp_path, {"x": per_image(25, 3, 0.5, 4), "y": per_image(25, 3, 0.7, 5)}, domains)
    b1, b2 = Bootstrap(200, seed=3), Bootstrap(200, seed=3)
    b1.add_tests(df, None)
    b2.add_tests(df[df["run_id"] == "x"], None)  # x alone: same image list, same seed -> the same resamples
    assert np.array_equal(b1.samples[("x", 10, "t", "night")], b2.samples[("x", 10, "t", "night")])


# ------------------------------------------------------------------ leaderboard
def test_leaderboard_matched_cells_seeds_exclusions():
    cfg = findings_config()
    rows = exclude(Rows(prepare(hand_rows()), "hand", None), cfg["exclude"])
    assert any("hrnet_w48" in n and "broken" in n for n in rows.notes)
    t = leaderboard(rows.df, "s1", cfg)["leaderboard"].set_index("label")
    # gen_A: d1 52-50, d2 41-40 -> +1.5 over 2 matched cells; its d3 cell has no baseline and is left out
    assert t.loc["gen_A", "gain"] == pytest.approx(1.5) and t.loc["gen_A", "n_cells"] == 2 and t.loc["gen_A", "n_unmatched"] == 1
    assert t.loc["gen_A", "mIoU"] == pytest.approx((52 + 41) / 2)
    # gen_B: d1 = mean of two seeds (50, 48) = 49 -> -1; d2 +3 -> +1.0, one positive cell, 2 seeds
    assert t.loc["gen_B", "gain"] == pytest.approx(1.0) and t.loc["gen_B", "n_positive"] == 1 and t.loc["gen_B", "n_seeds"] == 2
    assert t.loc["gen_A", "rank"] == 1 and t.loc["gen_D", "rank"] == len(t)
    assert t.loc["gen_A", "sig"] == "n/a" and np.isnan(t.loc["gen_A", "ci_low"])  # no per-image matrices: no interval
    assert t.loc["std_cutmix", "family"] == "Standard augmentation"


def test_reference_stage_and_families_from_config():
    assert baseline_stages("noise")[:2] == ["noise", "s1"] and baseline_stages("s1") == ["s1"]
    fam = findings_config()["families"]
    assert family_of("gen_cycleGAN", fam) == "GAN" and family_of("gen_step1x_new", fam) == "Diffusion"
    assert family_of("gen_Img2Img+cutmix", fam) == "Diffusion" and family_of("std_mixup", fam) == "Standard augmentation"
    t = leaderboard(prepare(hand_rows()), "noise", findings_config())["leaderboard"]
    assert t.set_index("ratio").loc[0.5, "gain"] == pytest.approx(0.0)  # noise 0.5: +1, -1 vs the s1 baselines


def test_leaderboard_cli_on_csv(csv, tmp_path, capsys):
    assert cli(["leaderboard", "--stage", "s1", "--results", str(csv), "--out", str(tmp_path), "--by", "dataset"]) == 0
    out = capsys.readouterr().out
    assert "gen_A" in out and "per-image confusion matrices missing" in out and "excluded model=hrnet_w48" in out
    md = (tmp_path / "leaderboard" / "s1" / "leaderboard.md").read_text()
    assert md.startswith("|") and "95% CI" in md
    assert (tmp_path / "leaderboard" / "s1" / "leaderboard.png").stat().st_size > 1000
    assert "by_dataset.csv" in {p.name for p in (tmp_path / "leaderboard" / "s1").iterdir()}


# ------------------------------------------------------------------ analyses (--results CSV, --json)
def test_analysis_noise(csv, tmp_path, capsys):
    j = run_json(capsys, "analyze", "noise", "--results", str(csv), "--out", str(tmp_path), "--json")
    assert j["n"] == 2 and j["avg_50_minus_baseline"] == 0.0 and j["avg_0_minus_baseline"] == -0.5 and j["avg_0_minus_50"] == -0.5
    assert (j["positive_50"], j["positive_0"], j["positive_0_vs_50"]) == (1, 1, 1)
    # gen_* of s1 (noise itself left out): d1 (2 - 1 - 3) / 3, d2 (1 + 3 + 0) / 3; std_*: d1 +1, d2 0
    assert j["gen_avg_gain"] == pytest.approx(((2 - 1 - 3) / 3 + 4 / 3) / 2, abs=1e-3) and j["std_avg_gain"] == 0.5
    assert (tmp_path / "noise" / "noise_s1" / "noise_vs_baseline.png").is_file()


def test_analysis_ratio(csv, tmp_path, capsys):
    j = run_json(capsys, "analyze", "ratio", "--stage", "s1_ratio", "--results", str(csv), "--out", str(tmp_path), "--json")
    (c,) = j["curves"]
    assert c["points"] == {"0": 44.0, "0.25": 48.0, "0.5": 52.0, "0.75": 53.0, "1": 50.0}
    assert c["spread"] == 9.0 and c["best_ratio"] == 0.75 and j["mean_spread"] == 9.0
    assert c["linear_deviation"] == pytest.approx((2.5 + 5 + 4.5) / 3)


def test_analysis_scratch_vs_pretrained(csv, tmp_path, capsys):
    j = run_json(capsys, "analyze", "scratch_vs_pretrained", "--results", str(csv), "--out", str(tmp_path), "--json")
    s = {x["strategy"]: x for x in j["strategies"]}
    assert (s["gen_A"]["scratch_gain"], s["gen_B"]["scratch_gain"], s["std_cutmix"]["scratch_gain"]) == (0.0, 5.0, -1.0)
    assert (s["gen_A"]["pretrained_gain"], s["gen_B"]["pretrained_gain"], s["std_cutmix"]["pretrained_gain"]) == (1.5, 1.0, 0.5)
    assert j["reversals"] == 1 and s["std_cutmix"]["reversal"] and not s["gen_A"]["reversal"]
    assert j["spearman_rho"] == pytest.approx(0.5) and j["n"] == 3
    assert j["mean_scratch_gain"] == pytest.approx(4 / 3, abs=1e-3) and j["collapse_ratio"] == pytest.approx(4 / 3, abs=1e-3)
    # no per-image matrices in the hand-written CSV: the interval keys exist and are null (n/a), never made up
    assert s["gen_A"]["scratch_gain_ci_low"] is None and s["gen_A"]["pretrained_gain_sig"] == "n/a"
    assert j["mean_scratch_gain_ci"] is None and j["mean_pretrained_gain_p"] is None


def test_analysis_cross_stage_combination_extended(csv, tmp_path, capsys):
    j = run_json(capsys, "analyze", "cross_stage", "--results", str(csv), "--out", str(tmp_path), "--json")
    assert j["n"] == 3 and j["spearman_rho"] == pytest.approx(0.5)  # s1 ranks A, B, cutmix; cg: B, A, cutmix
    j = run_json(capsys, "analyze", "combination", "--results", str(csv), "--out", str(tmp_path), "--json")
    assert j["vs_baseline"] == {"gen_A": {"cutmix": 5.0}} and j["vs_gen"]["gen_A"]["cutmix"] == 4.0
    assert j["vs_std"]["gen_A"]["cutmix"] == 6.0 and j["synergy"]["gen_A"]["cutmix"] == 5.0  # 75 - 71 - 69 + 70
    j = run_json(capsys, "analyze", "extended", "--stage", "extended_s1", "--results", str(csv), "--out", str(tmp_path), "--json")
    runs = {r["strategy"]: r for r in j["runs"]}
    assert runs["gen_A"]["steps"] == {"15000": 52.0, "20000": 54.0, "45000": 57.0} and runs["gen_A"]["gain"] == 5.0
    assert runs["baseline"]["base_step"] == 15000 and runs["baseline"]["gain"] == 2.0
    assert {g["step"]: g["gap"] for g in j["gaps"]} == {15000: 2.0, 20000: 3.0, 45000: 5.0}
    j = run_json(capsys, "analyze", "extended", "--stage", "s1", "--results", str(csv), "--out", str(tmp_path), "--json")
    assert j["runs"] == [] and j["n"] == 0 and "more than one tested checkpoint" in " ".join(j["notes"])  # one step per run: nothing to say


def test_analysis_domain_gap_quality_variants(csv, tmp_path, capsys):
    j = run_json(capsys, "analyze", "domain_gap", "--results", str(csv), "--out", str(tmp_path), "--json")
    s = {x["strategy"]: x for x in j["strategies"]}
    assert s["baseline"]["gap"] == -20.0 and s["gen_A"]["gap"] == -14.0 and s["gen_A"]["gap_change_vs_baseline"] == 6.0
    q = tmp_path / "q.csv"
    q.write_text("method,FID,LPIPS\nA,10,0.3\nB,20,0.1\nD,30,0.2\nZZ,5,0.5\n")
    j = run_json(capsys, "analyze", "quality", "--quality", str(q), "--results", str(csv), "--out", str(tmp_path), "--json")
    m = {x["metric"]: x for x in j["metrics"]}
    assert m["FID"]["spearman_rho"] == pytest.approx(-1.0) and m["FID"]["n"] == 3  # gains A 1.5 > B 1.0 > D -1.5
    assert any("ZZ" in n for n in j["notes"]) and (tmp_path / "quality" / "s1" / "quality_FID.png").is_file()
    # the hand-written CSV has no per-image matrices: every interval column is there, null, and marked n/a
    no_ci = {"ci_low": None, "ci_high": None, "p": None, "sig": "n/a"}
    j = run_json(capsys, "analyze", "loss", "--results", str(csv), "--out", str(tmp_path), "--json")
    assert j["variants"] == [{"strategy": "gen_A", "ratio": 0.5, "loss": "lovasz", "gain": 1.0, "n": 1, **no_ci}]
    j = run_json(capsys, "analyze", "batch_size", "--results", str(csv), "--out", str(tmp_path), "--json")
    assert j["variants"] == [{"strategy": "gen_A", "ratio": 0.5, "batch_size": 8.0, "gain": -2.0, "n": 1, **no_ci}]
    assert any("per-image confusion matrices missing" in n for n in j["notes"])


# ------------------------------------------------------------------ analyses' intervals (per-image matrices)
def test_analysis_intervals_paired_bootstrap_and_combined_cells(tmp_path, capsys):
    # two cells (d1, d2) with 40 test images each (20 clear_day, 20 night), 4 classes
    domains = ["clear_day"] * 20 + ["night"] * 20
    b1, b2 = per_image(40, 4, 0.5, seed=11), per_image(40, 4, 0.5, seed=12)
    runs = [
        (("s1", "baseline", "none", "d1", 1.0, "ce", 100), b1), (("s1", "baseline", "none", "d2", 1.0, "ce", 100), b2),
        (("s1", "gen_same", "none", "d1", 0.5, "ce", 100), b1.copy()),  # image by image the baseline: every difference is 0
        (("noise", "gen_random_noise", "none", "d1", 0.5, "ce", 100), b1.copy()),  # identical to the d1 baseline
        (("noise", "gen_random_noise", "none", "d1", 0.0, "ce", 100), per_image(40, 4, 0.95, seed=13)),  # clearly better
        (("noise", "gen_random_noise", "none", "d2", 0.5, "ce", 100), per_image(40, 4, 0.6, seed=14)),
        # extended_s1: two tested checkpoints per run (every step is bootstrapped, not only the final one)
        (("extended_s1", "baseline", "none", "d1", 1.0, "ce", 200), b1), (("extended_s1", "baseline", "none", "d1", 1.0, "ce", 300), b2),
        (("extended_s1", "gen_same", "none", "d1", 0.5, "ce", 200), b1.copy()), (("extended_s1", "gen_same", "none", "d1", 0.5, "ce", 300), per_image(40, 4, 0.9, seed=15)),
        # combination (reference cg): combo = gen-only and std-only = baseline image by image -> vs_gen and synergy exactly 0
        (("cg", "baseline", "none", "cs", 1.0, "ce", 100), b2), (("cg", "std_cutmix", "cutmix", "cs", 1.0, "ce", 100), b2.copy()),
        (("cg", "gen_A", "none", "cs", 0.5, "ce", 100), b1), (("combination", "gen_A", "cutmix", "cs", 0.5, "ce", 100), b1.copy()),
    ]
    write_store_with_matrices(tmp_path, runs, domains)
    j = run_json(capsys, "analyze", "noise", "--output-root", str(tmp_path), "--resamples", "300", "--json")
    c = {x["dataset"]: x for x in j["cells"]}
    # identical runs: interval [0, 0], p = 1, marked ns
    assert (c["d1"]["d50_minus_baseline_ci_low"], c["d1"]["d50_minus_baseline_ci_high"], c["d1"]["d50_minus_baseline_p"]) == (0.0, 0.0, 1.0)
    assert c["d1"]["d50_minus_baseline_sig"] == "ns" and c["d1"]["gen_avg_gain_ci_low"] == 0.0 == c["d1"]["gen_avg_gain_ci_high"]
    # a clearly better run: the interval lies above 0 and holds the point gain; sig '' (interval excludes 0)
    d = c["d1"]
    assert 0 < d["d0_minus_baseline_ci_low"] <= d["d0_minus_baseline"] <= d["d0_minus_baseline_ci_high"] and d["d0_minus_baseline_sig"] == ""
    assert d["d0_minus_baseline_p"] < 0.01 and d["d0_minus_50_ci_low"] > 0
    # d2 has no noise 0.0 run: no difference, no interval
    assert c["d2"]["d0_minus_baseline"] is None and c["d2"]["d0_minus_baseline_ci_low"] is None and c["d2"]["d0_minus_baseline_sig"] == "n/a"
    # the average over the two cells: the interval of the mean of the two cells' sample vectors per resample
    boot = Bootstrap(300, seed=0)
    rows = pd.read_csv(tmp_path / "results.csv").assign(run_dir="")
    boot.add_tests(rows, tmp_path)
    side = {r: boot.samples[(r, 100, ds, "all")] for r, ds in (("s1/baseline/d1/m1", "d1"), ("s1/baseline/d2/m1", "d2"),
                                                               ("noise/gen_random_noise/d1/m1_ratio0p50", "d1"), ("noise/gen_random_noise/d2/m1_ratio0p50", "d2"))}
    hand = ((side["noise/gen_random_noise/d1/m1_ratio0p50"] - side["s1/baseline/d1/m1"]) + (side["noise/gen_random_noise/d2/m1_ratio0p50"] - side["s1/baseline/d2/m1"])) / 2
    lo, hi, p = boot.interval(hand)
    assert j["avg_50_minus_baseline_ci"] == pytest.approx([lo, hi], abs=1e-4) and j["avg_50_minus_baseline_p"] == pytest.approx(p, abs=1e-4)
    assert lo < j["avg_50_minus_baseline"] < hi and lo != hi
    assert j["avg_0_minus_baseline_ci"][0] > 0  # one cell: that cell's interval
    assert j["avg_0_minus_baseline_ci"] == pytest.approx([d["d0_minus_baseline_ci_low"], d["d0_minus_baseline_ci_high"]], abs=1e-4)
    # existing keys unchanged; the table marks significance; the figure exists
    assert j["n"] == 2 and j["positive_0"] == 1 and "intervals: paired bootstrap" in " ".join(j["notes"])
    assert "| ns" in (tmp_path / "findings" / "noise" / "noise_s1" / "cells.md").read_text()
    assert (tmp_path / "findings" / "noise" / "noise_s1" / "noise_averages.png").stat().st_size > 1000
    # domain_gap: the gap change is a difference of per-domain differences on the same resamples -> exactly 0 here
    j = run_json(capsys, "analyze", "domain_gap", "--output-root", str(tmp_path), "--resamples", "300", "--json")
    g = {x["strategy"]: x for x in j["strategies"]}["gen_same"]
    assert (g["gap_change_vs_baseline_ci_low"], g["gap_change_vs_baseline_ci_high"], g["gap_change_vs_baseline_p"]) == (0.0, 0.0, 1.0)
    assert g["gap_ci_low"] < g["gap"] < g["gap_ci_high"]
    # extended: at step 200 gen_same is the baseline image by image (gap [0, 0]); at 300 it is clearly better
    j = run_json(capsys, "analyze", "extended", "--stage", "extended_s1", "--output-root", str(tmp_path), "--resamples", "300", "--json")
    gaps = {x["step"]: x for x in j["gaps"]}
    assert (gaps[200]["gap_ci_low"], gaps[200]["gap_ci_high"], gaps[200]["gap_sig"]) == (0.0, 0.0, "ns")
    assert gaps[300]["gap_ci_low"] > 0 and gaps[300]["gap_sig"] == ""
    r = {x["strategy"]: x for x in j["runs"]}["gen_same"]
    assert (r["base_step"], r["final_step"]) == (200, 300) and r["gain_ci"][0] > 0 and j["mean_gain_ci"]["gen_same"] == r["gain_ci"]
    j = run_json(capsys, "analyze", "combination", "--output-root", str(tmp_path), "--resamples", "300", "--json")
    assert j["vs_gen_ci"] == {"gen_A": {"cutmix": [0.0, 0.0]}} and j["synergy_ci"] == {"gen_A": {"cutmix": [0.0, 0.0]}} and j["synergy_p"]["gen_A"]["cutmix"] == 1.0
    lo, hi = j["vs_baseline_ci"]["gen_A"]["cutmix"]
    assert lo < j["vs_baseline"]["gen_A"]["cutmix"] < hi


def test_export_idempotent(csv, tmp_path, capsys):
    to = tmp_path / "paper"
    args = ["export", "--stage", "s1", "--results", str(csv), "--out", str(tmp_path / "f"), "--to", str(to)]
    assert cli(args) == 0
    first = (to / "MANIFEST.json").read_text()
    m = json.loads(first)
    names = {e["path"] for e in m["files"]}
    assert "results/s1_results.csv" in names and "leaderboard/s1/leaderboard.csv" in names and "metadata/findings_config.yaml" in names
    assert any(n.startswith("ablation/domain_gap/") for n in names)
    e = next(e for e in m["files"] if e["path"] == "results/s1_results.csv")  # 16 s1 rows; 2 hrnet rows excluded
    assert e["rows"] == 16 and len(e["sha256"]) == 64 and e["code_version"]
    assert cli(args) == 0
    assert (to / "MANIFEST.json").read_text() == first


def test_bad_input_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli(["leaderboard", "--stage", "s1", "--results", str(tmp_path / "nope.csv")])
    assert e.value.code == 2
    assert "--results" in capsys.readouterr().err
