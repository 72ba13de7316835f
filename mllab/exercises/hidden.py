"""The hidden tests of the exercises, in the notebook's kernel and in a fresh process.

In the instructor edition each graded cell of an exercise with hidden cases ends with::

    ### BEGIN HIDDEN TESTS
    lab05.hidden_tests(checked, fit_t_of_n)
    ### END HIDDEN TESTS

which runs the student's function on the hidden cases (:mod:`mllab.exercises.hidden_cases`) in
the kernel and leaves the share of the points earned (0 to 1) as the cell's value. Whatever
the kernel holds can have been changed by the student's cells, so that value is never trusted
alone: ``mllab labs grade`` also runs ``python -m mllab.exercises.hidden`` with the answer
cell's text on stdin (:func:`grade_source`): a fresh interpreter imports the kit and the
lab's own imports, draws the cases, and only then executes the answer cell, with the kit's
reference for the exercise unavailable. An answer cell that replaces anything of the kit (the
checker, ``self_check``, this module) or of numpy, math or builtins scores 0 there, with the
names it replaced. The grade is the smaller of the two shares.

The seed of the cases is ``MLLAB_HIDDEN_SEED`` (the grader sets it for both runs), so a case
that failed can be named in the feedback and reproduced.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import MllabError
from mllab.exercises.check import Check, describe_error
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import (
    LIMIT_S,
    HiddenResult,
    Spec,
    changed,
    delegated,
    run_groups,
    score,
    snapshot,
    time_limit,
    unavailable,
)
from mllab.exercises.messages import frame, language

SEED_ENV = "MLLAB_HIDDEN_SEED"
LIMIT_ENV = "MLLAB_HIDDEN_LIMIT_S"
INTERRUPTED = "interrupted"


def seed() -> int:
    """The seed of the hidden cases (``MLLAB_HIDDEN_SEED``, 0 when unset)."""
    return int(os.environ.get(SEED_ENV, "0"))


def limit_s() -> float:
    """How long the hidden cases may run (``MLLAB_HIDDEN_LIMIT_S``, else :data:`LIMIT_S`)."""
    return float(os.environ.get(LIMIT_ENV, LIMIT_S))


def spec_of(grade_id: str) -> Spec:
    """The hidden test of ``grade_id`` (a typed error naming the covered ones if none)."""
    if grade_id not in SPECS:
        raise MllabError(f"no hidden cases for {grade_id!r}; there are for {sorted(SPECS)}")
    return SPECS[grade_id]


def hidden_tests(checked: Check, function: Callable[..., Any]) -> float:
    """In a graded cell, after the self-check ``checked``: the student's ``function`` on the
    hidden cases; prints one line and returns the share of the points (nbgrader's partial
    credit is the cell's value). An unfinished or interrupted answer is not run again."""
    spec = spec_of(checked.exercise)
    if not checked.done:
        result = HiddenResult.zero(spec, "not done")
    elif checked.message.startswith(INTERRUPTED):
        result = HiddenResult.zero(spec, "the self-check was interrupted: no hidden cases run")
    else:
        groups = spec.groups(np.random.default_rng(seed()))
        spaces = [getattr(function, "__globals__", {})]
        result = run_groups(spec, groups, function, spaces, limit_s())
    passed = sum(g.passed for g in result.groups)
    share = f"{result.share:.0%}"
    print(frame("hidden").format(share=share, passed=passed, groups=len(result.groups)))
    return result.share


def grade_source(grade_id: str, source: str, prelude: str, case_seed: int) -> dict[str, Any]:
    """The hidden test of ``grade_id`` on the answer cell ``source``, in this (fresh) process,
    as :meth:`HiddenResult.to_json`'s dict: ``prelude`` (the lab's own import lines, the kit's)
    runs first, the cases are drawn, then the answer cell runs with the references unavailable;
    anything of the kit it replaced makes the exercise score 0."""
    spec = spec_of(grade_id)
    # what judges the answer is held here, before it runs: rebinding a module's name later
    # cannot reach these (rebinding is what `changed` reports)
    take, compare, zero, to_json = snapshot, changed, HiddenResult.zero, HiddenResult.to_json
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(prelude, "<the lab's imports>", "exec"), namespace)  # noqa: S102 — the kit's
    groups = spec.groups(np.random.default_rng(case_seed))
    before = take()
    with unavailable(spec.references, [namespace]) as called:
        try:
            with time_limit(limit_s()):
                exec(compile(source, f"<answer cell {grade_id}>", "exec"), namespace)  # noqa: S102
            result = score(spec, groups, namespace.get(spec.function), called, limit_s())
        except BaseException as error:  # noqa: BLE001 — the answer cell's own code: anything
            reason = delegated(called[0]) if called else None
            result = zero(spec, reason or f"the answer cell raised {describe_error(error)}")
    patched = compare(before, take())
    if patched:
        result = zero(
            spec,
            f"the answer replaced the kit's own code ({', '.join(patched[:3])}): an answer "
            "that changes the checker scores 0",
        )
    return to_json(result)


def main() -> int:
    """``python -m mllab.exercises.hidden`` with ``{"grade_id", "source", "prelude", "seed",
    "result"}`` as JSON on stdin: writes the hidden result's dict to the file ``result`` (named
    on stdin, not on the command line, where the answer would find it more easily), its words
    in the language of ``MLLAB_LANG`` (the grader sets the submission's)."""
    request = json.loads(sys.stdin.read())
    out, dumps, write = Path(request["result"]), json.dumps, Path.write_text  # held before
    shown, lang = HiddenResult.shown, language()  # the feedback in the edition's language
    result = grade_source(
        request["grade_id"], request["source"], request.get("prelude", ""), int(request["seed"])
    )
    write(out, dumps(shown(result, lang)))
    return 0


if __name__ == "__main__":
    # run as the kit's module (not as a `__main__` copy), so its names are the ones watched
    from mllab.exercises.hidden import main as kit_main

    raise SystemExit(kit_main())
