import os
from pathlib import Path

import pytest

from pyspark_kernel.results.output_dir import MARKER, OutputDir, OutputDirError


def test_private_folder_is_created_and_cleared(tmp_path):
    out = OutputDir()
    try:
        (out.path / "result.parquet").mkdir()
        (out.path / "result.parquet" / "part-0.parquet").write_bytes(b"x")
        (out.path / "note.txt").write_text("x")
        out.clear()
        assert sorted(os.listdir(out.path)) == [MARKER]
    finally:
        out.remove()
    assert not out.path.exists()


def test_two_kernels_get_distinct_folders():
    a, b = OutputDir(), OutputDir()
    try:
        (b.path / "theirs.parquet").write_bytes(b"x")
        a.clear()
        assert (b.path / "theirs.parquet").exists()
        assert a.path != b.path
    finally:
        a.remove()
        b.remove()


def test_clear_removes_links_but_never_their_targets(tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.txt").write_text("keep me")
    out = OutputDir(str(tmp_path / "out"))
    (out.path / "link").symlink_to(outside)
    (out.path / "filelink").symlink_to(outside / "data.txt")
    inner = out.path / "sub"
    inner.mkdir()
    (inner / "deeplink").symlink_to(outside)
    out.clear()
    assert (outside / "data.txt").read_text() == "keep me"
    assert sorted(os.listdir(out.path)) == [MARKER]


def test_refuses_folders_it_did_not_create(tmp_path):
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "user.csv").write_text("1")
    with pytest.raises(OutputDirError, match="not created by the kernel"):
        OutputDir(str(tmp_path / "existing"))
    with pytest.raises(OutputDirError):
        OutputDir("/")
    with pytest.raises(OutputDirError):
        OutputDir(str(Path.home()))
    (tmp_path / "target").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "target")
    with pytest.raises(OutputDirError, match="symlink"):
        OutputDir(str(tmp_path / "alias"))


def test_folder_replaced_by_a_link_between_cells_is_not_cleared(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / MARKER).write_text("forged")
    (victim / "data.txt").write_text("keep")
    out = OutputDir(str(tmp_path / "out"))
    os.rename(out.path, tmp_path / "moved")
    (tmp_path / "out").symlink_to(victim)
    with pytest.raises(OutputDirError, match="replaced"):
        out.clear()
    assert (victim / "data.txt").read_text() == "keep"


def test_folder_replaced_by_another_folder_is_not_cleared(tmp_path):
    out = OutputDir(str(tmp_path / "out"))
    os.rename(out.path, tmp_path / "moved")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / MARKER).write_text("forged")
    (tmp_path / "out" / "data.txt").write_text("keep")
    with pytest.raises(OutputDirError, match="replaced by another folder"):
        out.clear()
    assert (tmp_path / "out" / "data.txt").exists()


def test_dotdot_paths_are_resolved_before_ownership_checks(tmp_path):
    (tmp_path / "a").mkdir()
    out = OutputDir(str(tmp_path / "a" / ".." / "b"))
    assert out.path == tmp_path / "b"
    out.remove()


def test_find_parquet_prefers_result_parquet(tmp_path):
    out = OutputDir(str(tmp_path / "out"))
    (out.path / "a_first.parquet").mkdir()
    (out.path / "a_first.parquet" / "part-0.parquet").write_bytes(b"x")
    assert out.find_parquet() == out.path / "a_first.parquet"
    (out.path / "result.parquet").mkdir()
    (out.path / "result.parquet" / "part-0.parquet").write_bytes(b"x")
    assert out.find_parquet() == out.path / "result.parquet"
    (out.path / "notes.txt").write_text("x")
    out.clear()
    assert out.find_parquet() is None


def _age(path: Path, seconds: float = 5.0) -> None:
    """Make `path`'s mtime `seconds` old, as an idle folder's is between cells."""
    then = path.stat().st_mtime - seconds
    os.utime(path, (then, then))


def test_a_folder_left_empty_is_not_listed_again_but_a_new_file_is_found(tmp_path):
    out = OutputDir(str(tmp_path / "out"))
    _age(out.path)
    out.clear()  # found empty, mtime old: remembered
    assert out.find_parquet() is None
    # written at once after the check, in the same tick of the file clock as nothing else
    (out.path / "result.parquet").mkdir()
    (out.path / "result.parquet" / "part-0.parquet").write_bytes(b"x")
    assert out.find_parquet() == out.path / "result.parquet"
    out.clear()
    assert sorted(os.listdir(out.path)) == [MARKER]


def test_a_folder_emptied_just_now_is_listed_again(tmp_path):
    out = OutputDir(str(tmp_path / "out"))
    (out.path / "old.csv").write_text("x")
    out.clear()  # its mtime is now: a change within the same tick would keep it
    out.clear()
    (out.path / "a.parquet").write_bytes(b"x")
    assert out.find_parquet() == out.path / "a.parquet"


def test_the_marker_removed_after_the_folder_was_seen_empty_is_noticed(tmp_path):
    out = OutputDir(str(tmp_path / "out"))
    _age(out.path)
    out.clear()
    (out.path / MARKER).unlink()
    with pytest.raises(OutputDirError, match="marker"):
        out.clear()
