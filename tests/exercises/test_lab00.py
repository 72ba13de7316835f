"""Lab 00's exercises: the notebook's solutions pass, unfinished ones are "not done", planted
wrong answers fail with their hint; nothing prints a traceback."""

from __future__ import annotations

import copy

import pytest

from mllab.exercises import lab00


@pytest.fixture
def pair():
    return lab00.made_up_pair()


def test_the_solutions_pass(solution, pair, capsys):
    host, container = pair
    checked = lab00.check_differing_fields(solution("00", "ex00_diff"), host, container)
    assert checked.passed and checked.value == lab00.reference_differing_fields(host, container)
    rule = solution("00", "ex00_cuda")
    checked = lab00.check_cuda_rule(rule)
    assert checked.passed and checked.value is rule
    assert "Traceback" not in capsys.readouterr().out


def test_the_made_up_pair_has_the_differences_it_is_meant_to(pair):
    found = lab00.reference_differing_fields(*pair)
    assert {"packages.torch", "packages.onnxruntime", "cgroup.cpu_quota", "os.distro"} <= set(found)
    assert "captured_at" not in found and "packages.numpy" not in found


def test_not_done_goes_on_with_the_kits_answers(pair, not_done, capsys):
    host, container = pair
    checked = lab00.check_differing_fields(not_done, host, container)
    assert not checked.done and checked.value == lab00.reference_differing_fields(host, container)
    assert lab00.check_differing_fields(not_done, host).value is None  # no container here
    checked = lab00.check_cuda_rule(not_done)
    assert not checked.done and checked.value is lab00.reference_cuda_compatible
    out = capsys.readouterr().out
    assert out.count("not done yet: the lab goes on with the kit's reference") == 3
    assert "Traceback" not in out


def test_comparing_whole_sections_fails_with_the_hint(pair, capsys):
    def top_level_only(e1, e2):
        return [k for k in set(e1) | set(e2) if e1.get(k) != e2.get(k)]

    checked = lab00.check_differing_fields(top_level_only, pair[0])
    assert not checked.passed and "compare the nested fields" in checked.message
    assert lab00.SECTION_E in " ".join(capsys.readouterr().out.split())  # wrapped lines


def test_keeping_the_volatile_fields_fails_with_the_hint(solution, pair):
    right = solution("00", "ex00_diff")

    def with_volatile(e1, e2):
        return [*right(e1, e2), "captured_at", "hostname"]

    checked = lab00.check_differing_fields(with_volatile, *pair)
    assert not checked.passed and "leave out ['captured_at', 'hostname']" in checked.message


def test_the_real_pair_is_checked_too(solution, pair):
    host = copy.deepcopy(pair[0])
    container = copy.deepcopy(host)
    container["python"]["version"] = "3.12.0"
    right = solution("00", "ex00_diff")

    def wrong_on_real(e1, e2):
        return right(e1, e2) if e2 is not container else []

    assert lab00.check_differing_fields(right, host, container).value == ["python.version"]
    checked = lab00.check_differing_fields(wrong_on_real, host, container)
    assert "on host vs container" in checked.message and "python.version" in checked.message


def test_comparing_versions_as_text_fails_on_12_10(capsys):
    checked = lab00.check_cuda_rule(lambda container, driver: container <= driver)
    assert not checked.passed
    assert "cuda_compatible('12.10', '12.9')" in checked.message
    assert checked.value is lab00.reference_cuda_compatible
    out = capsys.readouterr().out
    assert "«Управление версиями CUDA и драйверов»" in out and "Traceback" not in out


def test_the_prediction_for_this_machine():
    rule = lab00.reference_cuda_compatible
    assert lab00.predict(rule, "12.8", "13.0") == "a CUDA session should run"
    assert lab00.predict(rule, "13.0", "12.8") == "a CUDA session should fail"
    assert lab00.predict(rule, "12.8", None).startswith("nothing")
    assert lab00.predict(rule, "12.8", "n/a").startswith("nothing")


@pytest.mark.parametrize("section", [lab00.SECTION_E, lab00.SECTION_CUDA], ids=["first", "second"])
def test_the_sections_cited_are_the_lectures_headings(section, cited_headings):
    cited, headings = cited_headings(section)
    assert cited and set(cited) <= headings
