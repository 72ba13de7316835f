"""Leave the engine as lab 03 found it: every container, network, volume and image whose name
starts with ``mllab-arch-`` removed (but the cached base-image equivalents, :data:`KEEP`).

Each of the lab's experiments removes what it made in a ``finally``; this is the net under
them, for a kernel killed mid-cell or a cell stopped by papermill's timeout. The lab's last cell
calls :func:`cleanup`, and the lab runner calls it again after lab 03 has run, also when a cell
failed. Running it twice, or with nothing left, changes nothing. Nothing without the prefix is
touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mllab.containers.docker_cli import docker

#: every name the lab's experiments give what they make starts so
PREFIX = "mllab-arch-"
#: images kept between runs, like the kit's slim image: the base-image equivalents of section
#: 7 (cached builds; ``mllab.experiments.architecture.base_images.cleanup`` removes them)
KEEP = "mllab-arch-base"
#: (kind, the listing command, the removal command) in the order they depend on each other
KINDS = (
    ("containers", ["ps", "-a", "--format", "{{.Names}}"], ["rm", "-f", "-v"]),
    ("networks", ["network", "ls", "--format", "{{.Name}}"], ["network", "rm"]),
    ("volumes", ["volume", "ls", "--format", "{{.Name}}"], ["volume", "rm", "-f"]),
    ("images", ["images", "--format", "{{.Repository}}:{{.Tag}}"], ["rmi", "-f"]),
)


@dataclass
class ArchitectureCleanup:
    """What :func:`cleanup` removed, per kind, and what it could not."""

    removed: dict[str, list[str]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the runner's log."""
        counts = ", ".join(f"{len(names)} {kind}" for kind, names in self.removed.items())
        left = f"; could not remove {self.failed}" if self.failed else ""
        return f"removed what lab 03 left ({counts or 'nothing'}){left}"


def leftovers(kind_listing: list[str]) -> list[str]:
    """The names a listing command prints that carry the lab's prefix."""
    names = docker(kind_listing, timeout=60).stdout.split()
    return sorted({n for n in names if n.startswith(PREFIX) and not n.startswith(KEEP)})


def cleanup() -> ArchitectureCleanup:
    """Remove every container, network, volume and image named ``mllab-arch-…``."""
    done = ArchitectureCleanup()
    for kind, listing, removal in KINDS:
        names = leftovers(listing)
        if not names:
            continue
        result = docker([*removal, *names], timeout=120, check=False)
        still = set(leftovers(listing))
        done.removed[kind] = [n for n in names if n not in still]
        if result.returncode != 0 or still:
            done.failed += sorted(still)
    return done
