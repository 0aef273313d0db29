"""A full disk: a results write or a feature-cache write refused with ENOSPC ends `albench
run` with one line (exit 2), leaves every earlier result as it was and no partial file where
readers look; once there is space, the same command finishes the sweep.

The refusals are injected at the write calls (portable); where this process may mount a
tmpfs (root with CAP_SYS_ADMIN), a real full file system checks the feature cache too: its
memory-mapped writes would otherwise die of SIGBUS.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cli_children import finish, start
from runner_fakes import one_thread  # noqa: F401
from sweep_fakes import stable

import albench.features
from albench.cli import main
from albench.files import cache_root
from albench.results import RUNS_DIR, load

pytestmark = pytest.mark.usefixtures("one_thread")

NO_SPACE = os.strerror(errno.ENOSPC)


def _argv(out: Path, seeds: str) -> list[str]:
    return [
        "run",
        "--dataset",
        "digits",
        "--backbone",
        "tiny-clip",
        "--learner",
        "zero-shot",
        "--strategy",
        "random",
        "--seeds",
        seeds,
        "--rounds",
        "1",
        "--pool-subsample",
        "200",
        "--out",
        str(out),
    ]


def _error_line(stderr: str) -> str:
    """The one line albench printed about the error: the last, with no traceback before it
    (a progress bar's final state may precede it)."""
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("albench:")]
    assert stderr.splitlines()[-1] == line
    return line


def _files(folder: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _refuse(path: Path, text: str | bytes) -> None:
    """What a full disk does to a write: part of the bytes land, then ENOSPC."""
    with open(path, "wb" if isinstance(text, bytes) else "w") as handle:  # not Path.write_*
        handle.write(text[: len(text) // 2])  # (tests patch those)
    raise OSError(errno.ENOSPC, NO_SPACE, str(path))


def _fill_rows(patch: pytest.MonkeyPatch) -> None:
    """Parquet writes of run rows fail with ENOSPC after writing part of a file."""
    patch.setattr(pq, "write_table", lambda table, where, **kw: _refuse(Path(where), b"PAR1" * 64))


def _fill_selections(patch: pytest.MonkeyPatch) -> None:
    """Writes of a run's selections (JSON) fail with ENOSPC after writing part of them."""
    real = Path.write_text

    def write_text(self: Path, data: str, *args, **kwargs) -> int:
        if ".selections.json." in self.name:
            _refuse(self, data)
        return real(self, data, *args, **kwargs)

    patch.setattr(Path, "write_text", write_text)


@pytest.mark.parametrize("fill", [_fill_rows, _fill_selections], ids=["rows", "selections"])
def test_full_disk_while_writing_results_keeps_earlier_runs_and_says_so_in_one_line(
    tmp_path, tiny_digits_cache, capsys, fill
):
    out = tmp_path / "out"
    assert main(_argv(out, "0")) == 0
    earlier = _files(out)
    capsys.readouterr()

    with pytest.MonkeyPatch.context() as patch:
        fill(patch)
        status = main(_argv(out, "0-2"))
    err = _error_line(capsys.readouterr().err)
    assert status == 2
    assert err.startswith(f"albench: error: cannot write {out / RUNS_DIR}/")
    assert err.endswith(
        f": {NO_SPACE}; nothing was half-written and finished work is kept: free some "
        "space and rerun the same command"
    )
    after = _files(out)
    assert {path: after.get(path) for path in earlier} == earlier  # same bytes, same mtimes
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert load(out)["run_id"].nunique() == 1

    assert main(_argv(out, "0-2")) == 0  # space again: the rest is computed
    assert "2 runs computed, 1 already done" in capsys.readouterr().out
    assert main(_argv(tmp_path / "reference", "0-2")) == 0
    pd.testing.assert_frame_equal(
        stable(load(out)).drop(columns="sweep"),
        stable(load(tmp_path / "reference")).drop(columns="sweep"),
    )


def _cache_files(root: Path) -> list[str]:
    """Every file under the feature cache but the entries' lock files."""
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".lock"
    )


@pytest.mark.parametrize("step", ["features", "manifest"])
def test_full_disk_while_caching_features_leaves_no_entry(tmp_path, capsys, monkeypatch, step):
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path / "cache"))  # nothing cached yet
    root = cache_root() / "features"
    if step == "features":  # the blocks of features.npy cannot be allocated
        monkeypatch.setattr(albench.features, "reserve", lambda path: _refuse(path, b""))
    else:
        real = Path.write_text

        def write_text(self: Path, data: str, *args, **kwargs) -> int:
            if self.name == albench.features.MANIFEST_FILE:
                _refuse(self, data)
            return real(self, data, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)
    out = tmp_path / "out"
    status = main(_argv(out, "0"))
    err = _error_line(capsys.readouterr().err)
    assert status == 2
    assert err.startswith(f"albench: error: cannot write {root}/")
    assert f": {NO_SPACE}; nothing was half-written" in err
    assert _cache_files(root) == []  # no entry, no staging folder left behind
    assert not (out / RUNS_DIR).exists() or not list((out / RUNS_DIR).iterdir())

    monkeypatch.undo()
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path / "cache"))
    assert main(_argv(out, "0")) == 0
    assert {Path(name).name for name in _cache_files(root)} == {"features.npy", "manifest.json"}


@pytest.fixture
def full_features_folder(tmp_path):
    """A cache whose ``features`` folder is a 64 KiB tmpfs, too small for any feature file
    (the rest of the cache, backbone weights included, is on the ordinary disk)."""
    mount = tmp_path / "cache" / "features"
    mount.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.faults
def test_a_really_full_file_system_under_the_cache_gives_one_line_not_sigbus(
    tmp_path, full_features_folder
):
    log = tmp_path / "features.log"
    argv = ["features", "--dataset", "digits", "--backbone", "tiny-clip"]
    child = start(argv, log, {"ALBENCH_CACHE": str(full_features_folder.parent)})
    assert finish(child) == 2  # memory-mapped writes into a full tmpfs used to die of SIGBUS
    line = _error_line(log.read_text())
    assert line.startswith(f"albench: error: cannot write {full_features_folder}/")
    assert f": {NO_SPACE}; nothing was half-written" in line
    assert _cache_files(full_features_folder) == []
