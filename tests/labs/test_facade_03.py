"""Lab 03's facade (``mllab.labs.lab03``): a vocabulary that fits on one screen, and the
plumbing it took over from the notebook (exercise 1's listings from the namespace record,
exercise 2's table from the network and neighbour records), checked without Docker."""

from __future__ import annotations

from mllab.core.outcome import Outcome
from mllab.exercises.lab03 import reference_removed_isolations
from mllab.experiments.architecture.namespaces import NamespaceLink, NamespaceViews, VariantView
from mllab.labs import lab03


def test_the_facade_names_what_it_exports_on_one_screen():
    names = lab03.__all__
    assert len(names) == len(set(names)) and len(names) <= 45
    assert not [name for name in names if not hasattr(lab03, name)]
    assert lab03.__doc__ and "Groups:" in lab03.__doc__


def _view(variant: str, shared: set[str], ok: bool = True) -> VariantView:
    links = [
        NamespaceLink(n, 100 + i if n not in shared else 1 + i, 1 + i, n in shared)
        for i, n in enumerate(("pid", "net", "mnt", "uts", "ipc", "user"))
    ]
    links.append(NamespaceLink("cgroup", None, 9, None))  # unreadable: left out
    outcome = Outcome.ran() if ok else Outcome.failed("no such option")
    return VariantView(variant, outcome, namespaces=links)


def test_listings_are_the_measured_containers_namespaces_and_the_hosts():
    views = NamespaceViews(
        "img",
        Outcome.ran(),
        "/proc/1/ns",
        None,
        [
            _view("default", {"user"}),
            _view("--pid=host", {"pid", "user"}),
            _view("--bad", set(), ok=False),
        ],
        "uid 0 is uid 0",
        True,
        Outcome.not_run("no rootless runtime"),
        1.0,
    )
    found = lab03.listings(views)
    assert [label for label, _, _ in found] == ["default", "--pid=host"]  # the failed one: out
    label, inside, host = found[1]
    assert "cgroup" not in inside and host["cgroup"] == 9
    assert reference_removed_isolations(inside, host) == {"--pid=host", "--userns=host"}
