"""Two images side by side, from their ``docker save`` tars: why the IDs differ, exactly.

An image ID is the sha256 of the image's config JSON, and that config holds creation times and
the diff_ids (sha256 of each layer's uncompressed tar, file mtimes included).
:func:`compare_images` names the config fields and the layers that differ, and inside each
differing layer which files differ and in what (content, or only metadata such as the mtime).
"""

from __future__ import annotations

import json
import re
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mllab.containers.docker_cli import save
from mllab.containers.layers import instruction_of
from mllab.core.errors import InputError
from mllab.core.hashing import sha256_bytes, sha256_stream


@dataclass
class SavedImage:
    """An image written by ``docker save``: its config (what the ID hashes) and layer tars."""

    tag: str
    tar: Path
    config: dict[str, Any]
    config_sha256: str  # sha256 of the config file's bytes: equals the image ID
    layers: list[str]  # paths of the layer tars inside ``tar``, oldest first

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config["rootfs"]["diff_ids"])

    def instructions(self) -> list[str]:
        """The instruction that made each layer (history entries that are not empty_layer)."""
        made = [h for h in self.config.get("history", []) if not h.get("empty_layer")]
        names = [instruction_of(h.get("created_by", ""), h.get("comment", "")) for h in made]
        return names if len(names) == len(self.diff_ids) else ["?"] * len(self.diff_ids)


def save_image(tag: str, folder: str | Path) -> SavedImage:
    """``docker save tag`` into ``folder`` and read its manifest and config."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tar = save(tag, folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", tag) + ".tar"))
    with tarfile.open(tar) as outer:
        manifest = json.load(_member(outer, "manifest.json"))[0]
        raw = _member(outer, manifest["Config"]).read()
    return SavedImage(tag, tar, json.loads(raw), sha256_bytes(raw), list(manifest["Layers"]))


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    """The file ``name`` of a ``docker save`` archive, or :class:`InputError`."""
    handle = tar.extractfile(name)  # None for a member that is not a file
    if handle is None:
        raise InputError(f"{name} is not a file in the archive: not an image docker save wrote")
    return handle


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1, 2]}}`` -> ``{"a.b[0]": 1, "a.b[1]": 2}``: leaves by their path."""
    if isinstance(tree, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in tree.items()]
    elif isinstance(tree, list):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(tree)]
    else:
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(flatten(value, key))
    if not items:
        flat[prefix] = tree
    return flat


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Every leaf of two image configs that differs: ``{"field", "a", "b"}`` rows."""
    fa, fb = flatten(a), flatten(b)
    return [
        {"field": key, "a": fa.get(key), "b": fb.get(key)}
        for key in sorted(set(fa) | set(fb))
        if fa.get(key) != fb.get(key)
    ]


def field_names(rows: list[dict[str, Any]]) -> list[str]:
    """The differing fields with list indices folded: ``history[3].created`` ->
    ``history[].created``; counts in brackets where a field differs more than once."""
    counts = Counter(re.sub(r"\[\d+\]", "[]", row["field"]) for row in rows)
    return [f"{name} (×{n})" if n > 1 else name for name, n in sorted(counts.items())]


@dataclass(frozen=True)
class Entry:
    """One member of a layer tar: what a diff_id hashes besides the bytes."""

    type: str
    mode: int
    uid: int
    gid: int
    mtime: int
    size: int
    link: str
    sha256: str | None

    FIELDS = ("type", "mode", "uid", "gid", "mtime", "size", "link", "sha256")


def layer_entries(saved: SavedImage, index: int) -> dict[str, Entry]:
    """Name -> :class:`Entry` for every member of layer ``index`` (contents hashed)."""
    with tarfile.open(saved.tar) as outer:
        handle = outer.extractfile(saved.layers[index])
        entries = {}
        with tarfile.open(fileobj=handle, mode="r|") as inner:
            for member in inner:
                data = inner.extractfile(member) if member.isfile() else None
                digest = sha256_stream(data) if data is not None else None
                entries[member.name] = Entry(
                    member.type.decode(),
                    member.mode,
                    member.uid,
                    member.gid,
                    int(member.mtime),
                    member.size,
                    member.linkname,
                    digest,
                )
    return entries


@dataclass
class LayerDiff:
    """How two layers at the same position differ, file by file."""

    index: int
    instruction: str
    files: int
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)  # same name, other bytes or link
    metadata: list[str] = field(default_factory=list)  # same bytes, other mtime/mode/owner
    metadata_fields: dict[str, int] = field(default_factory=dict)

    def why(self) -> str:
        """One line: what makes the two tars (and so the diff_ids) differ."""
        parts = []
        if self.content:
            pyc = sum(name.endswith(".pyc") for name in self.content)
            parts.append(
                f"{len(self.content)} file(s) with other content"
                + (f" ({pyc} .pyc)" if pyc else "")
                + f", e.g. {', '.join(self.content[:3])}"
            )
        if self.only_a or self.only_b:
            parts.append(f"{len(self.only_a)} file(s) only in a, {len(self.only_b)} only in b")
        if self.metadata:
            fields = ", ".join(f"{k} of {n}" for k, n in sorted(self.metadata_fields.items()))
            parts.append(f"same bytes, other {fields} of {self.files} entries")
        return "; ".join(parts) or "identical entries (tar framing differs)"

    def row(self) -> dict[str, Any]:
        return {
            "layer": self.index,
            "instruction": self.instruction[:70],
            "entries": self.files,
            "content differs": len(self.content),
            "only in a/b": f"{len(self.only_a)}/{len(self.only_b)}",
            "metadata only": len(self.metadata),
            "why": self.why(),
        }


def layer_diff(a: SavedImage, b: SavedImage, index: int) -> LayerDiff:
    """Compare layer ``index`` of two saved images member by member."""
    ea, eb = layer_entries(a, index), layer_entries(b, index)
    both = sorted(set(ea) & set(eb))
    content = [n for n in both if (ea[n].sha256, ea[n].link) != (eb[n].sha256, eb[n].link)]
    metadata = [n for n in both if n not in set(content) and ea[n] != eb[n]]
    fields: Counter[str] = Counter()
    for name in metadata:
        for key in Entry.FIELDS:
            if getattr(ea[name], key) != getattr(eb[name], key):
                fields[key] += 1
    return LayerDiff(
        index=index,
        instruction=a.instructions()[index],
        files=len(set(ea) | set(eb)),
        only_a=sorted(set(ea) - set(eb)),
        only_b=sorted(set(eb) - set(ea)),
        content=content,
        metadata=metadata,
        metadata_fields=dict(fields),
    )


@dataclass
class ImageComparison:
    """Two images side by side: IDs, config fields that differ, and layer by layer."""

    tag_a: str
    tag_b: str
    id_a: str
    id_b: str
    fields: list[dict[str, Any]]
    diff_ids: list[tuple[str | None, str | None]]
    instructions: list[str]
    layers: list[LayerDiff]
    located: dict[str, int | None] = field(default_factory=dict)  # file -> its layer in a

    @property
    def same_id(self) -> bool:
        return self.id_a == self.id_b

    @property
    def changed_layers(self) -> list[int]:
        """Indices of the layers whose diff_id differs."""
        return [i for i, (x, y) in enumerate(self.diff_ids) if x != y]

    def layer_rows(self) -> list[dict[str, Any]]:
        """One row per layer: its instruction, both diff_ids (short), same or not."""
        return [
            {
                "layer": i,
                "instruction": self.instructions[i][:70],
                "diff_id a": (x or "-")[7:19],
                "diff_id b": (y or "-")[7:19],
                "same": x == y,
            }
            for i, (x, y) in enumerate(self.diff_ids)
        ]


def compare_images(
    tag_a: str,
    tag_b: str,
    files: bool = True,
    locate: tuple[str, ...] = (),
    folder: str | Path | None = None,
) -> ImageComparison:
    """Save both images, diff their configs and diff_ids, and (``files``) the members of each
    pair of differing layers; ``locate`` names files (``app/model.onnx``) whose layer in
    ``tag_a`` to find. The tars are written to a temporary folder and removed."""
    with tempfile.TemporaryDirectory(prefix="mllab-save-", dir=folder) as tmp:
        a, b = save_image(tag_a, Path(tmp, "a")), save_image(tag_b, Path(tmp, "b"))
        pairs = _pad(a.diff_ids, b.diff_ids)
        changed = [i for i, (x, y) in enumerate(pairs) if x != y and x and y]
        layers = [layer_diff(a, b, i) for i in changed] if files else []
        instructions = a.instructions() + ["?"] * (len(pairs) - len(a.diff_ids))
        located = {name: find_layer(a, name) for name in locate}
        return ImageComparison(
            tag_a,
            tag_b,
            "sha256:" + a.config_sha256,
            "sha256:" + b.config_sha256,
            config_diff(a.config, b.config),
            pairs,
            instructions,
            layers,
            located,
        )


def find_layer(saved: SavedImage, name: str) -> int | None:
    """The index of the last layer of ``saved`` that holds the file ``name`` (None: none)."""
    found = None
    with tarfile.open(saved.tar) as outer:
        for index, path in enumerate(saved.layers):
            with tarfile.open(fileobj=outer.extractfile(path), mode="r|") as inner:
                if any(member.name == name for member in inner):
                    found = index
    return found


def _pad(x: list[str], y: list[str]) -> list[tuple[str | None, str | None]]:
    n = max(len(x), len(y))
    return [(x[i] if i < len(x) else None, y[i] if i < len(y) else None) for i in range(n)]
