"""Swap for lab 07's memory experiment: the host's, a temporary file, or why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources import swap
from mllab.experiments.resources.container_limits import MIB


def test_host_swap_is_read_from_meminfo(tmp_path: Path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\nSwapTotal:       2048 kB\nSwapFree: 2048 kB\n")
    assert swap.host_swap_bytes(meminfo) == 2048 * 1024
    meminfo.write_text("MemTotal: 1000 kB\nSwapTotal: 0 kB\n")
    assert swap.host_swap_bytes(meminfo) == 0
    assert swap.host_swap_bytes(tmp_path / "none") == 0


def test_only_root_may_make_a_swap_file():
    assert swap.why_no_swap_file(euid=1000) == "making a swap file needs root (mkswap, swapon)"


def test_switched_off_swap_is_not_run_and_a_bad_mode_is_refused():
    with swap.swap_for(300 * MIB, False) as source:
        assert str(source.outcome) == "not run: swap switched off (MEMORY_SWAP = False)"
    with pytest.raises(InputError), swap.swap_for(300 * MIB, "yes"):
        pass


def test_the_hosts_swap_is_used_when_there_is_some(monkeypatch):
    monkeypatch.setattr(swap, "host_swap_bytes", lambda: 1024 * MIB)
    with swap.swap_for(300 * MIB) as source:
        assert source.outcome.ok and source.note == "the host's swap (1024 MiB)"


def test_without_swap_and_without_root_the_reason_is_given(monkeypatch):
    monkeypatch.setattr(swap, "host_swap_bytes", lambda: 0)
    monkeypatch.setattr(swap, "why_no_swap_file", lambda: "making a swap file needs root")
    with swap.swap_for(300 * MIB) as source:
        assert str(source.outcome) == (
            "not run: no swap on this host and making a swap file needs root"
        )


def test_a_swap_file_that_cannot_be_made_is_a_reason_not_an_error(monkeypatch):
    def refused(size: int, folder: Path) -> None:
        raise swap.SwapFileFailed("`swapon` failed (exit 255): Operation not permitted")

    monkeypatch.setattr(swap, "host_swap_bytes", lambda: 0)
    monkeypatch.setattr(swap, "why_no_swap_file", lambda: None)
    monkeypatch.setattr(swap, "swap_file", refused)
    with swap.swap_for(300 * MIB) as source:
        assert source.outcome.status == "not run"
        assert source.outcome.reason.startswith("no swap on this host, and `swapon` failed")


def test_a_swap_file_that_cannot_be_switched_on_is_deleted(monkeypatch, tmp_path: Path):
    def refuse(command: list[str]) -> None:
        if command[0] == "swapon":
            raise swap.SwapFileFailed("`swapon` failed (exit 255): Operation not permitted")

    monkeypatch.setattr(swap, "_run", refuse)
    with pytest.raises(swap.SwapFileFailed, match="Operation not permitted"):
        with swap.swap_file(1 * MIB, tmp_path):
            pass
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(swap.SwapFileFailed, match="could not make the swap file"):
        with swap.swap_file(1 * MIB, tmp_path / "no such folder"):
            pass


def test_a_swap_file_is_switched_off_and_deleted_after_its_block(monkeypatch, tmp_path: Path):
    ran: list[str] = []
    monkeypatch.setattr(swap, "_run", lambda command: ran.append(command[0]))
    with pytest.raises(KeyError), swap.swap_file(1 * MIB, tmp_path) as path:
        assert path.stat().st_size == 1 * MIB and (path.stat().st_mode & 0o777) == 0o600
        raise KeyError("whatever happened in the block")
    assert ran == ["mkswap", "swapon", "swapoff"]
    assert list(tmp_path.iterdir()) == []


def test_a_swap_file_that_will_not_switch_off_says_how_to_remove_it(monkeypatch, tmp_path):
    def refuse(command: list[str]) -> None:
        if command[0] == "swapoff":
            raise swap.SwapFileFailed("`swapoff` failed (exit 255): Cannot allocate memory")

    monkeypatch.setattr(swap, "_run", refuse)
    with pytest.raises(swap.SwapFileFailed, match=r"run `swapoff .* && rm .*` as root"):
        with swap.swap_file(1 * MIB, tmp_path):
            pass
