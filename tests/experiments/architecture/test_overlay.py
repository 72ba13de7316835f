"""Section 3's OverlayFS tour: docker's answers parsed, the upper directory classified (a
whiteout is a character device 0/0), the copied-up file told from a file of the written bytes
alone; one Docker test of lab 03's run."""

from __future__ import annotations

import os
import stat

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.architecture import overlay
from mllab.experiments.architecture.overlay import (
    DATA,
    GONE,
    NEW,
    NOTE,
    OverlayTour,
    UpperEntry,
    classify,
    judge_upper,
    overlay_rows,
    parse_diff,
    parse_graph_driver,
    scan_upper,
    upper_problem,
)


def test_docker_diff_lines_become_entries_and_noise_is_skipped():
    text = "C /data\nC /data/note.txt\nA /data/new.txt\nD /data/gone.txt\n\nWARNING x\n"
    entries = parse_diff(text)
    assert [(e.kind, e.path) for e in entries] == [
        ("C", "/data"),
        ("C", "/data/note.txt"),
        ("A", "/data/new.txt"),
        ("D", "/data/gone.txt"),
    ]


def test_graph_driver_splits_the_lower_dirs():
    root = "/var/lib/docker/overlay2"
    document = {
        "Name": "overlay2",
        "Data": {
            "LowerDir": f"{root}/abc-init/diff:{root}/l1/diff:{root}/l2/diff",
            "UpperDir": f"{root}/abc/diff",
            "MergedDir": f"{root}/abc/merged",
            "WorkDir": f"{root}/abc/work",
        },
    }
    driver = parse_graph_driver(document)
    assert driver.name == "overlay2" and len(driver.lower_dirs) == 3
    assert driver.lower_dirs[0].endswith("abc-init/diff") and driver.upper_dir.endswith("abc/diff")
    assert parse_graph_driver({"Name": "vfs", "Data": None}).lower_dirs == []


def test_a_character_device_0_0_is_a_whiteout_and_others_are_not():
    assert classify("/x", stat.S_IFCHR, 0, os.makedev(0, 0)).kind == "whiteout"
    other = classify("/x", stat.S_IFCHR, 0, os.makedev(1, 3))
    assert other.kind == "char device" and other.device == "1/3"
    assert classify("/d", stat.S_IFDIR | 0o755, 4096, 0).kind == "directory"
    file = classify("/f", stat.S_IFREG | 0o644, 28, 0)
    assert file.kind == "file" and file.size_bytes == 28


def test_the_upper_dir_is_listed_as_the_container_names_it(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "note.txt").write_text("x" * 28)
    entries = {e.path: e for e in scan_upper(tmp_path)}
    assert entries["/data"].kind == "directory"
    assert entries["/data/note.txt"] == UpperEntry("/data/note.txt", "file", 28)


def test_an_unreadable_or_absent_upper_dir_says_why(tmp_path):
    assert "no UpperDir" in (upper_problem("") or "")
    assert "not on this machine" in (upper_problem(str(tmp_path / "nowhere")) or "")
    assert upper_problem(str(tmp_path)) is None


def _tour(note_bytes: int, gone_kind: str = "whiteout") -> OverlayTour:
    tour = OverlayTour(Outcome.ran(), "base", 4, lower_size_bytes=19, host=Outcome.ran())
    tour.upper = [
        UpperEntry(f"{DATA}/{NOTE}", "file", note_bytes),
        UpperEntry(f"{DATA}/{GONE}", gone_kind, 0, "0/0" if gone_kind == "whiteout" else ""),
        UpperEntry(f"{DATA}/{NEW}", "file", 4),
    ]
    return judge_upper(tour)


def test_the_copy_up_is_the_whole_file_not_the_bytes_written():
    whole = _tour(note_bytes=28)  # 19 B of the lower file + the 9 B appended
    assert whole.copied_up is True and whole.whiteout is True
    only_the_write = _tour(note_bytes=9, gone_kind="file")
    assert only_the_write.copied_up is False and only_the_write.whiteout is False


def test_rows_show_diff_and_upper_dir_or_why_not():
    tour = _tour(note_bytes=28)
    tour.diff = parse_diff("C /data/note.txt\nA /data/new.txt\nD /data/gone.txt")
    rows = {r["write"]: r for r in overlay_rows(tour)}
    assert rows["deleted"]["docker diff"] == "D"
    assert rows["deleted"]["in UpperDir (host)"] == "whiteout 0/0"
    assert rows["changed"]["in UpperDir (host)"] == "file, 28 B"
    tour.host = Outcome.not_run("not readable")
    assert overlay_rows(tour)[0]["in UpperDir (host)"] == Outcome.not_run("not readable")


def test_the_deleted_variant_only_adds_a_layer_that_removes_the_file():
    kept, deleted = overlay.dockerfile(), overlay.dockerfile(delete=True)
    assert deleted.startswith(kept) and deleted.removeprefix(kept) == f"RUN rm {DATA}/big.bin\n"


@pytest.mark.docker
@pytest.mark.slow
def test_overlay_tour_on_the_engine(executed_lab):
    """Lab 03's run (issue 17: not repeated here): a later RUN rm shrinks nothing, the container
    runs on overlay2 over its init layer and the image's, docker diff lists the add, change and
    delete, and the upper directory holds the copied-up file and the whiteout."""
    tour = executed_lab("03").record("OverlayTour")
    assert tour["outcome"]["status"] == "ran", tour["outcome"]
    assert tour["kept_mb"] is not None and tour["deleted_mb"] is not None
    assert tour["deleted_mb"] >= tour["kept_mb"]  # deleting in a later layer shrinks nothing
    assert len(tour["deleted_layers"]) == len(tour["kept_layers"]) + 1
    assert tour["driver"] is not None and tour["driver"]["name"] == "overlay2"
    assert len(tour["driver"]["lower_dirs"]) >= 2  # the container's init layer and the image's
    kinds = {(e["kind"], e["path"]) for e in tour["diff"]}
    assert {("A", f"{DATA}/{NEW}"), ("C", f"{DATA}/{NOTE}"), ("D", f"{DATA}/{GONE}")} <= kinds
    if tour["host"]["status"] == "ran":
        assert tour["copied_up"] and tour["whiteout"]
        upper = {e["path"]: e for e in tour["upper"]}
        assert upper[f"{DATA}/{GONE}"]["kind"] == "whiteout"
