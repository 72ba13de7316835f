"""What importing locust does to threads, measured in a fresh interpreter::

    python -m mllab.measure.gevent_probe plain    # threads as Python makes them
    python -m mllab.measure.gevent_probe locust   # after ``import locust`` (gevent patches)

Two threads each block 200 ms in a C call that releases the GIL (as ``session.run`` does) and
needs no CPU, so a busy machine does not blur the answer. Prints one JSON line: one call's
seconds, two threads' seconds, and whether ``threading``/``socket`` are monkey-patched.
"""

from __future__ import annotations

import ctypes
import json
import sys
import threading
import time
from collections.abc import Callable

MODES = ("plain", "locust")
BLOCK_US = 200_000


def _block() -> None:
    ctypes.CDLL(None).usleep(BLOCK_US)


def _two_threads() -> None:
    threads = [threading.Thread(target=_block) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Time one blocking call and two threads in this interpreter; print them as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in MODES:
        print(f"usage: python -m mllab.measure.gevent_probe {{{','.join(MODES)}}}")
        return 2
    if argv[0] == "locust":
        import locust  # noqa: F401  - deferred on purpose: this import is what is measured

    one, two = _timed(_block), _timed(_two_threads)
    from gevent import monkey  # deferred: gevent is only a dependency of locust

    patched = {name: monkey.is_module_patched(name) for name in ("threading", "socket")}
    print(
        json.dumps(
            {
                "one_s": one,
                "two_threads_s": two,
                "threading_patched": patched["threading"],
                "socket_patched": patched["socket"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
