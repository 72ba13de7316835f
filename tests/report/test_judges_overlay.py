"""Lab 03's OverlayFS claims (C18, C19): for each, records for every verdict kind its judge can
give, built from the producers' own dataclasses, recorded and read back as a lab run does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.architecture.copy_up import CopyUp, aggregate
from mllab.experiments.architecture.shared_layers import ContainerDisk, SharedLayers
from mllab.report.judges_overlay import DOZENS, judge_c18, judge_c19
from mllab.report.verdict import NotMeasured

RAN = Outcome.ran()
BIG = 64 * 1024**2
IMAGE = 124_000_000


def copy_up_record(
    big_first: tuple[float, ...] = (40.0, 44.0, 48.0),
    small_first: tuple[float, ...] = (0.5, 0.6, 0.7),
    volume_first: tuple[float, ...] = (0.2, 0.25, 0.3),
    upper: list[int | None] | None = None,
    host: Outcome = RAN,
) -> CopyUp:
    """Three rounds; by default the copy-up stands out and the whole file went up."""
    rounds = []
    for i in range(3):
        first = {
            "lower_big_first": big_first[i],
            "lower_big_second": 0.1 + 0.01 * i,
            "lower_small_first": small_first[i],
            "volume_first": volume_first[i],
            "tmpfs_first": 0.03,
        }
        rounds.append(
            {"first_ms": first, "sequential_mbps": dict.fromkeys(("layer", "volume", "tmpfs"), 1e3)}
        )
    record = CopyUp(Outcome.ran(), "base", 64, 4, 3, host=host, big_bytes=BIG)
    record.upper_big_bytes = [BIG] * 3 if upper is None else upper
    return aggregate(record, rounds)


def shared_record(
    added: int = 28_672, same_lower: bool = True, host: Outcome = RAN
) -> SharedLayers:
    """Five containers of a 124 MB image, each adding ``added`` bytes on disk."""
    record = SharedLayers(Outcome.ran(), "base", IMAGE, 5, 4, "N = 5 stand in", host=host)
    du = added if host.ok else None
    record.containers = [
        ContainerDisk(f"c{i}", "4.1kB", min(added, 4096), IMAGE + 4096, du) for i in range(5)
    ]
    record.same_lower, record.image_layer_dirs = same_lower, 1
    return record


def test_c18_holds_beyond_the_spread_with_the_copy_in_the_upper_dir(results_of):
    judgement = judge_c18(results_of(("03", copy_up_record())))
    assert judgement.verdict.kind == "holds", judgement
    assert "the upper directory then holds the whole 64 MiB file" in judgement.verdict.text
    assert "[03:CopyUp]" in judgement.measured and "44 [40–48]" in judgement.measured


def test_c18_does_not_hold_when_the_ranges_overlap(results_of):
    record = copy_up_record(big_first=(0.2, 0.3, 0.4))  # as fast as the volume's
    judgement = judge_c18(results_of(("03", record)))
    assert judgement.verdict.kind == "does not hold"
    assert "no difference beyond the rounds' spread" in judgement.verdict.text
    assert "volume, same-size file, 1st write" in judgement.verdict.text


def test_c18_does_not_hold_when_the_upper_dir_lacks_the_whole_file(results_of):
    judgement = judge_c18(results_of(("03", copy_up_record(upper=[4096, 4096, 4096]))))
    assert judgement.verdict.kind == "does not hold"
    assert "did not hold the whole file" in judgement.verdict.text


def test_c18_holds_in_part_without_the_host_view(results_of):
    record = copy_up_record(upper=[None] * 3, host=Outcome.not_run("not readable here"))
    judgement = judge_c18(results_of(("03", record)))
    assert judgement.verdict.kind == "holds in part"
    assert "not seen: not readable here" in judgement.verdict.text


def test_c18_holds_in_part_when_the_size_control_fails(results_of):
    record = copy_up_record(small_first=(39.0, 45.0, 50.0))  # a 4 KiB copy-up costs as much
    judgement = judge_c18(results_of(("03", record)))
    assert judgement.verdict.kind == "holds in part"
    assert "the control fails" in judgement.verdict.text


NOT_MEASURED_C18 = [
    ([], "CopyUp not recorded: run lab 03"),
    ([("03", replace(copy_up_record(), outcome=Outcome.failed("BuildError: x")))], "failed"),
    ([("03", replace(copy_up_record(), targets=copy_up_record().targets[:2]))], "no timing of"),
    (
        [
            (
                "03",
                replace(
                    copy_up_record(),
                    targets=[replace(t, first_ms=[1.0]) for t in copy_up_record().targets],
                ),
            )
        ],
        "no spread",
    ),
]


@pytest.mark.parametrize(("records", "why"), NOT_MEASURED_C18)
def test_c18_not_measured(results_of, records, why):
    with pytest.raises(NotMeasured, match=why):
        judge_c18(results_of(*records))


def test_c19_holds_when_dozens_of_containers_add_a_sliver_of_one_image(results_of):
    judgement = judge_c19(results_of(("03", shared_record())))
    assert judgement.verdict.kind == "holds", judgement
    assert "by the engine's and the host's count" in judgement.verdict.text
    assert (
        f"{DOZENS} containers add" in judgement.measured and "N = 5 stand in" in judgement.measured
    )


def test_c19_does_not_hold_when_each_container_adds_about_an_image(results_of):
    judgement = judge_c19(results_of(("03", shared_record(added=IMAGE))))
    assert judgement.verdict.kind == "does not hold"
    assert "each adds about an image" in judgement.verdict.text


def test_c19_does_not_hold_when_dozens_would_add_a_tenth_of_the_image(results_of):
    added = IMAGE // DOZENS // 5  # five containers add little, three dozen add 20 %
    judgement = judge_c19(results_of(("03", shared_record(added=added))))
    assert judgement.verdict.kind == "does not hold"
    assert "not less than 10%" in judgement.verdict.text
    assert "each adds about an image" not in judgement.verdict.text


def test_c19_does_not_hold_when_the_layers_are_separate_copies(results_of):
    judgement = judge_c19(results_of(("03", shared_record(same_lower=False))))
    assert judgement.verdict.kind == "does not hold"
    assert "different directories" in judgement.verdict.text


def test_c19_holds_in_part_on_the_engines_count_alone(results_of):
    record = shared_record(host=Outcome.not_run("not root here"))
    judgement = judge_c19(results_of(("03", record)))
    assert judgement.verdict.kind == "holds in part"
    assert "host's disk blocks were not read: not root here" in judgement.verdict.text


NOT_MEASURED_C19 = [
    ([], "SharedLayers not recorded: run lab 03"),
    ([("03", replace(shared_record(), outcome=Outcome.failed("DockerCliError: x")))], "failed"),
    ([("03", replace(shared_record(), containers=[]))], "has no containers"),
    ([("03", replace(shared_record(), same_lower=None))], "has no same_lower"),
]


@pytest.mark.parametrize(("records", "why"), NOT_MEASURED_C19)
def test_c19_not_measured(results_of, records, why):
    with pytest.raises(NotMeasured, match=why):
        judge_c19(results_of(*records))
