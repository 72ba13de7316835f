"""Lab 04's exercises, statically: the layer order that keeps pip install cached and the
runtime stage's interface, against docker/Dockerfile."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.containers.dockerfiles import instructions
from mllab.core.paths import DOCKER
from mllab.exercises import lab04
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import run_groups
from mllab.report.grade_run import hidden_outside


def test_the_solutions_pass_and_write_the_kits_instructions(solution, tmp_path, capsys):
    checked = lab04.check_order(solution("04", "ex04_order"))
    assert checked.passed and lab04.pip_cached(checked.value, "model.onnx")
    out = tmp_path / "Dockerfile.interface"
    checked = lab04.check_interface(solution("04", "ex04_interface"), out)
    assert checked.passed and checked.value == out
    kit = tmp_path / "kit"
    kit.write_text(lab04.reference_interface())
    assert instructions(out) == instructions(kit)
    assert out.read_text() == lab04.reference_interface()  # line breaks too: the same cache key
    assert "Traceback" not in capsys.readouterr().out


def test_the_cache_rule_on_the_kits_dockerfiles():
    assert lab04.pip_cached(instructions(DOCKER / "Dockerfile"), "model.onnx")
    assert not lab04.pip_cached(instructions(DOCKER / "Dockerfile.naive"), "model.onnx")
    assert not lab04.pip_cached(instructions(DOCKER / "Dockerfile"), "requirements.lock")
    assert lab04.copied_sources("COPY --from=builder /opt/venv /opt/venv") == []


@pytest.mark.parametrize("order", [lab04.REFERENCE_ORDER, lab04.LECTURE_ORDER])
def test_the_kits_order_and_the_lectures_both_pass(order):
    checked = lab04.check_order(lambda steps: [steps[i] for i in order])
    assert checked.passed, checked.message


def test_the_tradeoff_counts_what_each_order_rebuilds():
    kit = [lab04.NAIVE_STEPS[i] for i in lab04.REFERENCE_ORDER]
    lecture = [lab04.NAIVE_STEPS[i] for i in lab04.LECTURE_ORDER]
    rows = {r["order"]: r for r in lab04.order_tradeoff({"kit": kit, "lecture": lecture})}
    # the kit: a model rebuilds COPY model + CMD, code rebuilds code, model, CMD
    assert (rows["kit"]["model changes"], rows["kit"]["code changes"]) == (2, 3)
    assert (rows["lecture"]["model changes"], rows["lecture"]["code changes"]) == (3, 2)


@pytest.mark.parametrize(
    ("order", "hint"),
    [
        (tuple(range(7)), "reruns pip install"),
        ((0, 1, 5, 4, 3, 2, 6), "COPY it before the RUN"),
        ((0, 4, 5, 3, 2, 1, 6), "WORKDIR"),
        ((0, 1, 4, 5, 3, 2), "exactly once"),
    ],
)
def test_planted_wrong_orders_get_their_hint(order, hint, capsys):
    checked = lab04.check_order(lambda steps: [steps[i] for i in order])
    assert not checked.passed and hint in checked.message
    assert checked.value == [lab04.NAIVE_STEPS[i] for i in lab04.REFERENCE_ORDER]
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert lab04.SECTION_CACHE in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ('EXPOSE 8080\nHEALTHCHECK CMD true\nCMD ["python", "-m", "mllab.serve.app"]\n', "no USER"),
        ('USER root\nEXPOSE 8080\nHEALTHCHECK CMD true\nCMD ["python"]\n', "is root"),
        ('USER 10001\nEXPOSE 8080\nCMD ["python", "-m", "mllab.serve.app"]\n', "HEALTHCHECK"),
        ("USER 10001\nEXPOSE 8080\nHEALTHCHECK CMD true\nCMD python -m mllab.serve.app\n", "shell"),
    ],
)
def test_planted_wrong_interfaces_get_their_hint_and_the_kits_part(text, hint, tmp_path):
    out = tmp_path / "Dockerfile.interface"
    checked = lab04.check_interface(lambda: text, out)
    assert not checked.passed and hint in checked.message
    assert out.read_text() == lab04.reference_interface()


def test_not_done_writes_the_kits_part(not_done, tmp_path, capsys):
    out = tmp_path / "Dockerfile.interface"
    checked = lab04.check_interface(not_done, out)
    assert not checked.done and out.read_text() == lab04.reference_interface()
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "section", [lab04.SECTION_CACHE, lab04.SECTION_INTERFACE], ids=["first", "second"]
)
def test_the_sections_cited_are_the_lectures_headings(section, cited_headings):
    cited, headings = cited_headings(section)
    assert cited and set(cited) <= headings


# --- the hidden cases: other orders and writings; the interface's four points -----------------


def _hidden(grade_id, function, seed=0):
    spec = SPECS[grade_id]
    return run_groups(spec, spec.groups(np.random.default_rng(seed)), function)


#: the right order of the visible steps, written out: what an answer returning text returns
FIXED = [lab04.NAIVE_STEPS[i] for i in lab04.REFERENCE_ORDER]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hidden_orders_take_the_rule_not_fixed_indices_or_text(solution, seed):
    assert _hidden("ex04_order", solution("04", "ex04_order"), seed).share == 1.0
    indices = _hidden("ex04_order", lambda s: [s[i] for i in lab04.REFERENCE_ORDER], seed)
    assert indices.share == 0.0 and "other orders" in indices.reason
    text = _hidden("ex04_order", lambda _s: list(FIXED), seed)
    assert text.share == 0.5 and text.reason.startswith("the same Dockerfile written otherwise")


def test_hidden_order_that_calls_the_kits_order_scores_zero():
    for answer in (lambda _steps: lab04.lecture_order(), lambda _s: lab04.reference_order()):
        result = _hidden("ex04_order", answer)
        assert result.share == 0.0 and "kit's own answer" in result.reason


RIGHT = lab04.reference_interface()


@pytest.mark.parametrize(
    ("text", "share", "hint"),
    [
        (RIGHT, 1.0, ""),
        (RIGHT.replace("USER 10001:10001", "USER mllab"), 1.0, ""),  # the stage creates it
        (RIGHT.replace("USER 10001:10001", "USER app"), 0.75, "no such user"),
        (RIGHT.replace("EXPOSE 8080", "EXPOSE 80"), 0.75, "listens on 8080"),
        (
            "USER 10001\nEXPOSE 8080\nHEALTHCHECK CMD curl -f http://localhost:8080/ready\n"
            'CMD ["python", "-m", "mllab.serve.app"]\n',
            0.75,
            "calls curl",
        ),
        (RIGHT.replace("/ready", "/"), 0.75, "ask the server itself"),
        (
            RIGHT.replace(
                'CMD ["python", "-m", "mllab.serve.app"]',
                'CMD ["sh", "-c", "python -m mllab.serve.app"]',
            ),
            0.75,
            "a shell is PID 1",
        ),
        (RIGHT + "STOPSIGNAL SIGKILL\n", 0.75, "STOPSIGNAL"),
    ],
)
def test_hidden_interface_points_each_a_share(text, share, hint):
    result = _hidden("ex04_interface", lambda: text)
    assert result.share == share and hint in result.reason
    assert all("not measured here" in g.name for g in result.groups)


def test_hidden_interface_the_solution_earns_all_and_the_kits_part_zero(solution):
    assert _hidden("ex04_interface", solution("04", "ex04_interface")).share == 1.0
    result = _hidden("ex04_interface", lambda: lab04.reference_interface())
    assert result.share == 0.0 and "reference_interface" in result.reason


def test_outside_the_kernel_a_patched_check_scores_zero(solution, tmp_path):
    body = "def interface_part():\n    return " + repr(RIGHT) + "\n"
    prelude = "from mllab.labs import lab04"

    def outside(source):
        return hidden_outside("ex04_interface", source, prelude, 2, 120, tmp_path / "work")

    assert outside(body)["share"] == 1.0
    patch = "import mllab.exercises.lab04 as kit\nkit.interface_problem = lambda text: None\n"
    patched = outside(patch + body)
    assert patched["share"] == 0.0 and "interface_problem" in patched["reason"]
