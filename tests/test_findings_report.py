"""prove report in a real headless Chromium: the page loads without console messages, every image decodes
(natural width > 0), and a screenshot is taken. Needs Debian's chromium (`make chromium` installs it, as root);
PROVE_SKIP_CHROMIUM=1 skips this test with that reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from findings_data import write_csv
from prove_lightning.cli import main as cli

CHECK = """<script>window.addEventListener('load', () => { document.body.setAttribute('data-check',
JSON.stringify([...document.images].map(i => i.naturalWidth))); });</script></body>"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("PROVE_SKIP_CHROMIUM") == "1":
            pytest.skip("PROVE_SKIP_CHROMIUM=1: no headless Chromium to load the report in")
        pytest.fail("chromium not found: run `sudo make chromium` (Debian package chromium), or PROVE_SKIP_CHROMIUM=1")
    return exe


def _run(exe: str, page: Path, *extra: str) -> tuple[str, list[str]]:
    """(stdout, console lines) of one headless load of a local page."""
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *extra, page.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(page.parent)})
    return out.stdout, [ln for ln in out.stderr.splitlines() if ":CONSOLE" in ln]


def _widths(exe: str, page: Path) -> tuple[list[int], list[str]]:
    probe = page.with_name(page.stem + "_probe.html")
    probe.write_text(page.read_text().replace("</body>", CHECK))
    dom, console = _run(exe, probe, "--dump-dom")
    m = re.search(r'data-check="([^"]*)"', dom)
    assert m, "the probe never ran: the page did not finish loading"
    return json.loads(m.group(1).replace("&quot;", '"')), console


def test_report_loads_in_chromium(tmp_path: Path, capsys) -> None:
    exe = _chromium()
    csv = write_csv(tmp_path / "rows.csv")
    out = tmp_path / "report"
    assert cli(["report", "--stage", "s1", "--results", str(csv), "--no-track", "--out", str(out)]) == 0
    page = out / "report_s1.html"
    text = page.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text  # static, nothing fetched
    assert "Leaderboard" in text and "Analysis: domain_gap" in text and "Analysis: noise" not in text  # only analyses with data
    shot = tmp_path / "report.png"
    _, console = _run(exe, page, f"--screenshot={shot}", "--window-size=1280,3000")
    assert console == [], console
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    widths, console = _widths(exe, page)
    assert len(widths) == text.count("<img ") >= 2 and all(w > 0 for w in widths), widths
    print(f"screenshot: {shot}")


def test_chromium_check_can_fail(tmp_path: Path) -> None:
    """Negative control: a console message and a broken image are both caught by the same checks."""
    exe = _chromium()
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body><img src="data:image/png;base64,AAAA">'
                   '<script>console.error("boom")</script></body></html>')
    widths, console = _widths(exe, bad)
    assert widths == [0] and any("boom" in c for c in console)
