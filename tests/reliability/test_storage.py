"""Read-only paths and a full disk: one line naming the path and saying nothing was overwritten; the files that
were there are intact. Uses small tmpfs mounts (needs root and mount permission; else skipped, reason printed)."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from reliability_helpers import run_prove_cli, run_train_cli, snapshot

from prove_lightning.cli_errors import find_prove_error
from prove_lightning.errors import StorageError
from prove_lightning.evaluation.results import ResultsStore
from prove_lightning.train import run_training

pytestmark = pytest.mark.reliability

ROW = {"run_id": "s1/a", "stage": "s1", "step": 1, "test_dataset": "toycity", "domain": "all", "n_images": 2, "mIoU": 50.0}


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        d = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True, text=True)
        if r.returncode != 0:
            reason = f"cannot mount a {size} tmpfs here ({(r.stderr or r.stdout).strip()}); these checks need root with mount permission"
            print(f"SKIPPED: {reason}")
            pytest.skip(reason)
        mounted.append(d)
        return d

    yield mount
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _remount_ro(d: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(d)], check=True)


def test_read_only_output_root_and_store(tmpfs, cache_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmpfs("4m")
    ResultsStore(root).upsert([ROW])
    before = snapshot(root)
    _remount_ro(root)
    rc, err = run_train_cli(["stage=demo", "model=segformer_b0", "trainer=cpu", f"paths.output_root={root}", f"paths.cache_root={cache_root}"])
    last = err.strip().splitlines()[-1]
    assert rc == 2 and f"cannot write under {root}" in last and "read-only file system" in last and "nothing was written or overwritten" in last, err
    with pytest.raises(StorageError, match=r"cannot write .*results.csv: the folder is read-only .*prove results --rebuild.*nothing was overwritten"):
        ResultsStore(root).upsert([{**ROW, "step": 2}])
    rc, out, err = run_prove_cli(["results", "--output-root", str(root), "--rows", "--no-save"])  # reading still works
    assert rc == 0 and "s1/a" in out, err
    assert snapshot(root) == before


def test_full_disk_while_training_names_the_checkpoint_and_leaves_no_partial_file(tmpfs, train_cfg) -> None:
    root = tmpfs("12m")  # config, audit, logs fit; the first checkpoint (weights + AdamW state, ~45 MB) does not
    cfg = train_cfg(output_root=root)
    with pytest.raises(Exception) as info:
        run_training(cfg)
    err = find_prove_error(info.value)
    assert isinstance(err, StorageError), repr(info.value)
    msg = str(err)
    assert msg.startswith(f"cannot write {Path(cfg.run_dir) / 'checkpoints'}/") and ".ckpt: no space left on the device (disk full)" in msg, msg
    assert "nothing was overwritten" in msg and "\n" not in msg
    ck = Path(cfg.run_dir) / "checkpoints"
    assert not list(ck.glob("*")) if ck.exists() else True  # neither a partial .ckpt nor a temp file
    assert (Path(cfg.run_dir) / "config.yaml").is_file()


def test_full_disk_while_writing_the_store_keeps_the_old_store(tmpfs) -> None:
    root = tmpfs("64k")
    store = ResultsStore(root)
    store.upsert([ROW])
    digest = hashlib.sha256(store.path.read_bytes()).hexdigest()
    big = [{**ROW, "step": s, "note": "x" * 2000} for s in range(2, 60)]
    with pytest.raises(StorageError, match=r"cannot write .*results.csv: no space left on the device \(disk full\); nothing was overwritten"):
        store.upsert(big)
    assert hashlib.sha256(store.path.read_bytes()).hexdigest() == digest
    assert not list(root.glob(".results.csv.*"))
