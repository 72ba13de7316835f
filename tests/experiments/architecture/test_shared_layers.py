"""C19's measurement: docker's sizes read, the init layer told from the image's, disk blocks
counted once; one Docker test of lab 03's run."""

from __future__ import annotations

import os

import pytest

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture import shared_layers
from mllab.experiments.architecture.shared_layers import (
    ContainerDisk,
    SharedLayers,
    df_sizes,
    disk_bytes,
    image_lowers,
    parse_human_size,
    shared_rows,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0B", 0), ("4.1kB", 4100), ("191MB", 191_000_000), ("12kB (virtual 124MB)", 12_000)],
)
def test_docker_sizes_are_decimal(text, expected):
    assert parse_human_size(text) == expected


def test_a_size_that_is_not_one_is_refused():
    with pytest.raises(InputError):
        parse_human_size("N/A")


def test_df_sizes_keeps_only_the_named_containers():
    document = {"Containers": [{"Names": "a", "Size": "4.1kB"}, {"Names": "other", "Size": "1GB"}]}
    assert df_sizes(document, ["a", "b"]) == {"a": "4.1kB"}


def test_the_init_layer_is_the_containers_own():
    lowers = ["/o/abc-init/diff", "/o/l1/diff", "/o/l2/diff"]
    assert image_lowers(lowers) == ["/o/l1/diff", "/o/l2/diff"]


def test_disk_blocks_count_a_hard_link_once(tmp_path):
    (tmp_path / "a").write_bytes(os.urandom(8192))
    once = disk_bytes(tmp_path)
    os.link(tmp_path / "a", tmp_path / "b")
    assert disk_bytes(tmp_path) == once >= 8192


def test_rows_compare_each_container_and_all_with_the_image():
    record = SharedLayers(Outcome.ran(), "img", 100_000_000, 2, 4, "N = 2", host=Outcome.ran())
    record.containers = [
        ContainerDisk("c0", "4.1kB", 4096, 100_004_096, 28_672),
        ContainerDisk("c1", "4.1kB", 4096, 100_004_096, None),
    ]
    rows = shared_rows(record)
    assert [r["adds B"] for r in rows[:3]] == [28_672, 4096, 32_768]
    assert rows[2]["% of the image"] == round(100 * 32_768 / 100_000_000, 4)
    assert rows[3]["adds B"] == 100_000_000


def test_one_container_shares_nothing_and_is_refused():
    with pytest.raises(InputError, match="n >= 2"):
        shared_layers.shared_layers(n=1, image="unused")


@pytest.mark.docker
@pytest.mark.slow
def test_shared_layers_on_the_engine(executed_lab):
    """Lab 03's run (issue 17: not repeated here): N containers of one image run on the same
    lower layers, each writable layer holds the bytes written, and each container's virtual
    size counts the image again."""
    record = executed_lab("03").record("SharedLayers")
    assert record["outcome"]["status"] == "ran", record["outcome"]
    assert len(record["containers"]) == record["n"] and record["same_lower"] is True
    written = record["write_kb"] * 1024
    assert all(c["size_rw_bytes"] >= written and c["df_size"] for c in record["containers"])
    assert all(c["virtual_bytes"] >= record["image_bytes"] for c in record["containers"])
