"""Atomic writes: all or nothing under the final name, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from albench.files import atomic_path, write_atomic


def test_written_file_has_umask_permissions_and_no_temporary_left(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "report.html", b"<p>ok</p>")
    finally:
        os.umask(old)
    target = tmp_path / "report.html"
    assert target.read_bytes() == b"<p>ok</p>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_failure_leaves_the_previous_file_untouched(tmp_path):
    target = tmp_path / "results.parquet"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]
