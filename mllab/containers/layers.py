"""What an image is made of: size, layers (the instruction and size of each), labels, user."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mllab.containers.engine import client
from mllab.core.errors import InputError
from mllab.core.outcome import Outcome

if TYPE_CHECKING:  # annotations only: matplotlib is imported when a notebook plots
    from matplotlib.figure import Figure


@dataclass
class Layer:
    """One layer of an image's history: the instruction that made it and its size."""

    instruction: str
    size: int
    created_by: str
    id: str = ""

    @property
    def size_mb(self) -> float:
        return self.size / 1e6


@dataclass
class ImageInfo:
    """What ``docker image inspect`` and ``docker history`` say about an image."""

    tag: str
    id: str
    size: int
    layers: list[Layer]
    labels: dict[str, str]
    user: str
    healthcheck: dict[str, Any] | None
    env: dict[str, str]
    cmd: list[str] | None
    exposed_ports: list[str]
    workdir: str

    @property
    def size_mb(self) -> float:
        return self.size / 1e6

    def layer_rows(self, min_mb: float = 0.0) -> list[dict[str, Any]]:
        """Layers oldest first as table rows; those under ``min_mb`` (metadata) left out."""
        rows = []
        for number, layer in enumerate(self.layers, 1):
            if layer.size_mb >= min_mb:
                size = _mb(layer.size_mb)
                rows.append({"#": number, "size_mb": size, "instruction": layer.instruction})
        return rows


def _mb(value: float) -> float:
    """MB as tables show them: whole MB from 100 MB up, else three decimals."""
    return round(value) if value >= 100 else round(value, 3)


def instruction_of(created_by: str, comment: str = "") -> str:
    """The Dockerfile instruction behind a history entry's ``CreatedBy``, readable.

    ``/bin/sh -c #(nop)  ENV PORT=8080`` -> ``ENV PORT=8080``; ``|2 A=1 B=2 /bin/sh -c pip ...``
    -> ``RUN pip ...``; ``COPY dir:<64 hex> in /x`` keeps 12 hex digits; BuildKit's
    ``RUN /bin/sh -c ... # buildkit`` -> ``RUN ...``; an imported base -> ``(base) <comment>``.
    """
    text = " ".join(created_by.split())
    if not text:  # an imported root filesystem (docker import, the local base)
        return f"(base) {comment}".strip() if comment else "(base)"
    text = re.sub(r" # buildkit$", "", text)
    text = re.sub(r"^\|\d+ (?:\S+=\S* )*?(?=/bin/sh -c |RUN )", "", text)
    if text.startswith("/bin/sh -c #(nop) "):
        text = text.removeprefix("/bin/sh -c #(nop) ").strip()
    elif text.startswith("/bin/sh -c "):
        text = "RUN " + text.removeprefix("/bin/sh -c ")
    text = re.sub(r"^RUN /bin/sh -c ", "RUN ", text)
    return re.sub(r"((?:file|dir|multi):)([0-9a-f]{12})[0-9a-f]{52}", r"\1\2", text)


def inspect(tag: str) -> ImageInfo:
    """Size, layers (oldest first, with the instruction and size of each), labels, user,
    healthcheck, ENV, CMD of an image."""
    import docker.errors  # deferred: the SDK is heavy at start-up

    try:
        image = client().images.get(tag)
    except docker.errors.ImageNotFound:
        raise InputError(f"no image {tag!r}: build it first (mllab images build ...)") from None
    config = image.attrs.get("Config") or {}
    layers = [
        Layer(
            instruction_of(h.get("CreatedBy", ""), h.get("Comment", "")),
            int(h.get("Size", 0)),
            h.get("CreatedBy", ""),
            h.get("Id", ""),
        )
        for h in reversed(image.history())
    ]
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return ImageInfo(
        tag=tag,
        id=image.attrs["Id"],  # image.id, which the SDK types as optional
        size=int(image.attrs["Size"]),
        layers=layers,
        labels=config.get("Labels") or {},
        user=config.get("User") or "",
        healthcheck=config.get("Healthcheck"),
        env=env,
        cmd=config.get("Cmd"),
        exposed_ports=sorted(config.get("ExposedPorts") or {}),
        workdir=config.get("WorkingDir") or "",
    )


def inspect_labels(tag: str) -> dict[str, str]:
    """An image's labels, or {} when there is no such image."""
    try:
        return inspect(tag).labels
    except InputError:
        return {}


def size_rows(tags: dict[str, str], reference: str = "slim") -> list[dict[str, Any]]:
    """For named images ({"slim": tag, ...}): size, layer count and size / the reference's."""
    infos = {name: inspect(tag) for name, tag in tags.items()}
    ref = infos[reference].size if reference in infos else None
    return [
        {
            "image": name,
            "tag": info.tag,
            "size_mb": _mb(info.size_mb),
            "layers": len(info.layers),
            f"x_{reference}": round(info.size / ref, 2) if ref else None,
        }
        for name, info in infos.items()
    ]


def plot_sizes(rows: list[dict[str, Any]], title: str = "Image size") -> Figure:
    """A bar chart of :func:`size_rows` (MB, log scale: the naive image is GBs); the figure."""
    import matplotlib.pyplot as plt  # deferred: only notebooks plot

    fig, ax = plt.subplots(figsize=(6, 3))
    names = [r["image"] for r in rows]
    sizes = [r["size_mb"] for r in rows]
    bars = ax.bar(names, sizes, color="tab:blue")
    ax.bar_label(bars, labels=[f"{s:,.0f} MB" for s in sizes])
    ax.set_yscale("log")
    ax.set_ylabel("MB (log scale)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


@dataclass
class ImageSizes:
    """The sizes of the server's images in MB (claim C3: naive vs slim). A size is None when
    that image was not built; ``outcomes`` says, per kind, whether it was and why not."""

    slim_mb: float | None = None
    naive_mb: float | None = None
    cuda_mb: float | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    base_mb: float | None = None  # the base every image starts FROM, for scale

    SCHEMA_VERSION: ClassVar[int] = 1


def image_sizes(tags: Mapping[str, str], outcomes: Mapping[str, Outcome]) -> ImageSizes:
    """:class:`ImageSizes` of the images in ``tags`` (``{"slim": tag, "naive": tag, ...}``;
    a kind that is missing stays None) with the build ``outcomes`` of each kind."""
    sizes = {name: inspect(tag).size_mb for name, tag in tags.items()}
    return ImageSizes(
        slim_mb=sizes.get("slim"),
        naive_mb=sizes.get("naive"),
        cuda_mb=sizes.get("cuda"),
        outcomes=dict(outcomes),
        base_mb=sizes.get("base"),
    )
