"""The load generator off the server's cores: split only when there are cores to spare, every
thread of a running process moved, this thread's affinity restored."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from mllab.experiments.serving import cores as cores_module
from mllab.experiments.serving.cores import pin_process, pinned_here, split_cores

linux = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux affinity only")


@linux
def test_cores_are_split_only_when_some_are_left_for_the_client(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 1, 2, 0})
    monkeypatch.setattr(cores_module, "usable_cpus", lambda: 4)
    assert split_cores(2) == ([0, 1], [2, 3])
    assert split_cores(3) == ([0, 1, 2], [3])
    assert split_cores(4) is None
    monkeypatch.setattr(cores_module, "usable_cpus", lambda: 2)  # a --cpus 2 quota
    assert split_cores(2) is None


@linux
def test_this_thread_and_its_new_threads_are_pinned_then_restored():
    before = os.sched_getaffinity(0)
    one = [min(before)]
    seen = []
    with pinned_here(one):
        assert os.sched_getaffinity(0) == set(one)
        worker = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        worker.start()
        worker.join()
    assert seen == [set(one)] and os.sched_getaffinity(0) == before
    with pinned_here(None):
        assert os.sched_getaffinity(0) == before


@linux
def test_every_thread_of_a_running_process_is_moved():
    code = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start(); "
    code += "print('up', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "up"
        one = [max(os.sched_getaffinity(0))]
        pin_process(child.pid, one)
        tasks = os.listdir(f"/proc/{child.pid}/task")
        assert len(tasks) == 2
        assert all(os.sched_getaffinity(int(task)) == set(one) for task in tasks)
    finally:
        child.kill()
        child.wait()
