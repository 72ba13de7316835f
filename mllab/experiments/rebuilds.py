"""Rebuilding the same image: when the ID is the same, when it is not, and exactly why.

The lecture says two engineers building the same Dockerfile get identical hashes
(Build(S, D, C) = Build(S, D, C) ⇒ H(D₁) = H(D₂)). An image ID is the sha256 of the image's
config JSON, and that config holds creation times and the diff_ids (sha256 of each layer's
uncompressed tar, file mtimes included). So:

* :func:`docker_rebuilds` builds the slim image (``docker/Dockerfile``, the staged context of
  :mod:`mllab.containers.images`) with the layer cache (every step a cache hit: the same ID) and with
  ``--no-cache`` (a new ID); :func:`compare_images` names the config fields and the layers
  that differ, and inside each differing layer which files differ and in what (content, or
  only mtime).
* :func:`buildah_twice` builds it with buildah ``--timestamp 0`` and ``SOURCE_DATE_EPOCH``
  (declared in the Dockerfile by :func:`reproducible_dockerfile`) twice, and gets one ID;
  :func:`buildah_to_docker` loads it into Docker to run it.
* :func:`buildkit_rewrite_timestamp` is the BuildKit path (Docker ≥ 25 with buildx,
  ``rewrite-timestamp=true``); where it is absent it says so instead of being skipped.
* :func:`base_tar_twice` builds the mmdebstrap base twice: the same tar sha256.
* :func:`cache_experiment` reads cache hits from the legacy builder's output ("Using cache"):
  a new model reruns only the model's COPY and what follows, a new lock reruns pip (C10), and
  the model's layer is the only diff_id that changes (C11).
* :func:`build_with_gate` refuses to build when the model does not match its sha256.

docker and buildah run as subprocesses or through :mod:`mllab.containers.images`; nothing heavy is
imported at module level (the CLI imports this module).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.core.errors import BuildError, InputError, MllabError
from mllab.core.paths import ARTIFACTS, DOCKER

#: every image and container these experiments make is named under this prefix
PREFIX = "mllab-repro"
#: buildah keeps its own storage here (git-ignored), apart from any system-wide store
BUILDAH_ROOT = ARTIFACTS / "buildah"
#: the fixed build time of the reproducible builds (1970-01-01, as ``--timestamp 0``)
EPOCH = 0
#: steps the legacy builder never answers from the cache (no "Using cache" line to read)
NO_CACHE_LINE = ("FROM ", "ARG BASE_IMAGE=")
#: where the slim Dockerfile puts the model (``COPY model.onnx ... /app/``)
MODEL_IN_IMAGE = "app/model.onnx"


# --- reading a saved image -------------------------------------------------------------------


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
        from mllab.containers.images import instruction_of

        made = [h for h in self.config.get("history", []) if not h.get("empty_layer")]
        names = [instruction_of(h.get("created_by", ""), h.get("comment", "")) for h in made]
        return names if len(names) == len(self.diff_ids) else ["?"] * len(self.diff_ids)


def save_image(tag: str, folder: str | Path) -> SavedImage:
    """``docker save tag`` into ``folder`` and read its manifest and config."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tar = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", tag) + ".tar")
    done = subprocess.run(["docker", "save", "-o", str(tar), tag], capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"docker save {tag} failed: {done.stderr.strip()}")
    with tarfile.open(tar) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        raw = outer.extractfile(manifest["Config"]).read()
    return SavedImage(
        tag, tar, json.loads(raw), hashlib.sha256(raw).hexdigest(), list(manifest["Layers"])
    )


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
                digest = None
                if member.isfile():
                    digest = hashlib.sha256(inner.extractfile(member).read()).hexdigest()
                entries[member.name] = Entry(
                    member.type.decode(), member.mode, member.uid, member.gid,
                    int(member.mtime), member.size, member.linkname, digest,
                )  # fmt: skip
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

    def summary(self) -> dict[str, Any]:
        """JSON-able figures for ``mllab.core.records.record``."""
        return {
            "id_a": self.id_a,
            "id_b": self.id_b,
            "same_id": self.same_id,
            "differing_fields": field_names(self.fields),
            "layers": len(self.diff_ids),
            "changed_layers": self.changed_layers,
            "layer_files": [
                {
                    "layer": d.index,
                    "instruction": d.instruction[:70],
                    "content_differs": len(d.content),
                    "metadata_only": len(d.metadata),
                    "metadata_fields": d.metadata_fields,
                    "examples": (d.content or d.metadata)[:5],
                }
                for d in self.layers
            ],
        }


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
            tag_a, tag_b, "sha256:" + a.config_sha256, "sha256:" + b.config_sha256,
            config_diff(a.config, b.config), pairs, instructions, layers, located,
        )  # fmt: skip


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


# --- Docker: with the cache and without -------------------------------------------------------


def slim_context(name: str = "slim", model: str | Path | None = None) -> Path:
    """A staged copy of the slim image's context under ``artifacts/repro/<name>``."""
    from mllab.containers.images import stage_context

    return stage_context("slim", dest=ARTIFACTS / "repro" / name, model=model, on_log=None)


def slim_buildargs(context: Path) -> dict[str, str]:
    """The build arguments :func:`mllab.containers.images.build_kind` passes (base, model sha, version)."""
    from mllab import __version__
    from mllab.containers.images import base_image

    sha = (context / "model.onnx.sha256").read_text().split()[0]
    return {"BASE_IMAGE": base_image(), "MODEL_SHA256": sha, "VERSION": __version__}


def docker_build(context: Path, tag: str, nocache: bool = False, buildargs=None):
    """:func:`mllab.containers.images.build` of ``context/Dockerfile`` (quiet), a BuildResult."""
    from mllab.containers.images import build

    buildargs = buildargs or slim_buildargs(context)
    return build(context / "Dockerfile", tag, context, buildargs, nocache=nocache, on_log=None)


def docker_rebuilds(prefix: str = PREFIX, model: str | Path | None = None) -> dict[str, Any]:
    """Build the slim image three times: ``:first``, again with the cache (``:cached``), and
    with ``--no-cache`` (``:nocache``). Returns the three BuildResults and the tags."""
    context = slim_context(model=model)
    tags = {k: f"{prefix}/slim:{k}" for k in ("first", "cached", "nocache")}
    results = {
        "first": docker_build(context, tags["first"]),
        "cached": docker_build(context, tags["cached"]),
        "nocache": docker_build(context, tags["nocache"], nocache=True),
    }
    return {"tags": tags, "builds": results, "context": context}


def step_rows(result) -> list[dict[str, Any]]:
    """A build's steps: number, instruction, cache hit / ran / not reported by the builder."""
    return [
        {
            "step": s.number,
            "cache": "n/a"
            if s.instruction.startswith(NO_CACHE_LINE)
            else ("hit" if s.cached else "ran"),
            "instruction": s.instruction[:90],
        }  # fmt: skip
        for s in result.steps
    ]


# --- C10 and C11: what a change reruns, and which layer it changes -------------------------


def _pip_step(result) -> Any:
    for step in result.steps:
        if "pip" in step.instruction and "requirements.lock" in step.instruction:
            return step
    raise BuildError("the slim Dockerfile has no `pip install -r requirements.lock` step")


def cache_effects(result) -> dict[str, Any]:
    """From a build's output: the first step that ran, whether every step before it was a
    cache hit, which steps ran, and whether the pip install step was a hit."""
    steps = [s for s in result.steps if not s.instruction.startswith(NO_CACHE_LINE)]
    ran = [s for s in steps if not s.cached]
    first = ran[0].number if ran else None
    return {
        "rebuilt": [s.instruction[:80] for s in ran],
        "first_rebuilt_step": first,
        "before_change_cached": all(s.cached for s in steps if first is None or s.number < first),
        "pip_cached": _pip_step(result).cached,
        "pip_rerun": not _pip_step(result).cached,
        "seconds": round(result.seconds, 1),
    }


def other_model(model: str | Path | None = None) -> Path:
    """A second, different model file (the cached INT8 model): same interface, other bytes."""
    from mllab.model.quantize import default_int8_model

    other = Path(default_int8_model())
    if model and Path(model).resolve() == other.resolve():
        raise InputError("the other model must differ from the base model")
    return other


def cache_experiment(prefix: str = PREFIX, model: str | Path | None = None) -> dict[str, Any]:
    """C10 and C11 on real builds of the slim image.

    1. the base build (``:cache-base``, from the layer cache when there is one);
    2. the same context with another model file (``:model``): which steps rerun, is pip a
       cache hit, which diff_ids change;
    3. the same context with one comment line added to ``requirements.lock`` (``:lock``):
       pip must rerun.
    """
    base_ctx = slim_context(model=model)
    base = docker_build(base_ctx, f"{prefix}/slim:cache-base")
    model_ctx = slim_context("slim-model", model=other_model(model))
    changed_model = docker_build(model_ctx, f"{prefix}/slim:model")
    lock_ctx = slim_context("slim-lock", model=model)
    with (lock_ctx / "requirements.lock").open("a") as handle:
        handle.write("# the same pins, one comment more: the file's checksum changes\n")
    changed_lock = docker_build(lock_ctx, f"{prefix}/slim:lock")
    layers = compare_images(
        f"{prefix}/slim:cache-base", f"{prefix}/slim:model", files=False, locate=(MODEL_IN_IMAGE,)
    )
    model_layer = layers.located[MODEL_IN_IMAGE]
    return {
        "builds": {"base": base, "model": changed_model, "lock": changed_lock},
        "comparison": layers,
        "model_change": cache_effects(changed_model),
        "lock_change": cache_effects(changed_lock),
        "lock_same_image": changed_lock.image_id == base.image_id,
        "model_layer": {
            "ids_differ": not layers.same_id,
            "changed_layers": layers.changed_layers,
            "model_layer": model_layer,
            "only_model_layer": model_layer is not None and layers.changed_layers == [model_layer],
        },
    }


# --- the integrity gate ----------------------------------------------------------------------


def build_with_gate(model: str | Path, tag: str, context_name: str = "slim-gated"):
    """Build the slim image with ``model`` only if it matches its ``.sha256``.

    The check runs before anything is staged or sent to Docker, so a tampered model leaves no
    image and no context behind (:class:`mllab.core.errors.IntegrityError`). The Dockerfile checks
    again inside the build (``RUN sha256sum --check``), which catches a file changed after
    staging.
    """
    from mllab.model.integrity import verify_model

    verify_model(model)
    return docker_build(slim_context(context_name, model=model), tag)


def tampered_copy(model: str | Path, folder: str | Path) -> Path:
    """A copy of ``model`` and its digest file in ``folder`` with one byte of the model
    flipped: the digest no longer matches (for demonstrating the gates)."""
    model, folder = Path(model), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / model.name
    shutil.copyfile(model, copy)
    shutil.copyfile(model.with_name(model.name + ".sha256"), folder / (model.name + ".sha256"))
    with copy.open("r+b") as handle:
        handle.seek(copy.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return copy


def tamper_in_context(context: Path) -> None:
    """Flip one byte of the staged ``model.onnx`` (its ``.sha256`` unchanged): what the
    Dockerfile's ``RUN sha256sum --check`` must stop."""
    path = context / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# --- buildah: the same ID twice --------------------------------------------------------------


def reproducible_dockerfile(source: str | Path = DOCKER / "Dockerfile") -> str:
    """The slim Dockerfile with ``ARG SOURCE_DATE_EPOCH`` declared in every stage.

    buildah 1.28 passes ``--build-arg SOURCE_DATE_EPOCH`` to the RUN steps only when the
    Dockerfile declares it; with it, ``useradd`` writes the epoch (not today's date) into
    /etc/shadow. The rest of docker/Dockerfile is already reproducible (no pip cache, no
    timestamps in the unchecked-hash .pyc), so this is the only change.
    """
    lines = []
    for line in Path(source).read_text().splitlines():
        lines.append(line)
        if line.startswith("FROM "):
            lines.append("ARG SOURCE_DATE_EPOCH")
    return "\n".join(lines) + "\n"


def buildah_status() -> str | None:
    """None when buildah can build here; otherwise why not."""
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah)"
    if os.geteuid() != 0:
        return "buildah needs root here (rootless buildah needs subuid/subgid set up)"
    return None


def _buildah(args: list[str], driver: str, check: bool = True) -> subprocess.CompletedProcess:
    root = BUILDAH_ROOT / driver
    command = ["buildah", "--root", str(root / "root"), "--runroot", str(root / "run")]
    command += ["--storage-driver", driver, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise BuildError(f"{' '.join(command[:8])} ... failed:\n{done.stderr.strip()[-1500:]}")
    return done


def storage_driver(preferred: tuple[str, ...] = ("overlay", "vfs")) -> str:
    """The first buildah storage driver that works here (overlay needs a kernel that allows
    overlay mounts from this process; vfs always works but copies every layer in full)."""
    for driver in preferred:
        if _buildah(["images"], driver, check=False).returncode == 0:
            return driver
    raise MllabError(f"no buildah storage driver of {preferred} works here")


@dataclass
class BuildahBuild:
    """One buildah build: the tag, the image ID (sha256 of the config) and the time."""

    tag: str
    image_id: str
    seconds: float
    driver: str
    options: list[str]


def buildah_build(
    context: Path,
    tag: str,
    timestamp: int | None = EPOCH,
    source_date_epoch: int | None = EPOCH,
    layers: bool = False,
    driver: str | None = None,
    buildargs: dict[str, str] | None = None,
) -> BuildahBuild:
    """``buildah bud`` of ``context/Dockerfile``; the base comes from the Docker engine
    (``docker-daemon:`` transport). ``timestamp`` fixes the created time and every file mtime
    in the layers; ``layers=False`` commits one layer per stage (``--layers`` one per step)."""
    if status := buildah_status():
        raise MllabError(f"not available: {status}")
    driver = driver or storage_driver()
    args = dict(buildargs or slim_buildargs(context))
    args["BASE_IMAGE"] = "docker-daemon:" + args["BASE_IMAGE"]
    if source_date_epoch is not None:
        args["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    options = ["--no-cache", f"--layers={'true' if layers else 'false'}"]
    if timestamp is not None:
        options.append(f"--timestamp={timestamp}")
    command = ["bud", *options, "-f", str(context / "Dockerfile"), "-t", tag]
    for key, value in sorted(args.items()):
        command += ["--build-arg", f"{key}={value}"]
    start = time.perf_counter()
    _buildah([*command, str(context)], driver)
    seconds = time.perf_counter() - start
    image_id = _buildah(["inspect", "--format", "{{.FromImageID}}", tag], driver).stdout.strip()
    return BuildahBuild(tag, "sha256:" + image_id, seconds, driver, options)


def repro_context(model: str | Path | None = None) -> Path:
    """The slim context with :func:`reproducible_dockerfile` as its Dockerfile."""
    context = slim_context("slim-buildah", model=model)
    (context / "Dockerfile").write_text(reproducible_dockerfile())
    return context


def buildah_twice(
    prefix: str = PREFIX,
    model: str | Path | None = None,
    layers: bool = False,
    driver: str | None = None,
    timestamp: int | None = EPOCH,
) -> dict[str, Any]:
    """Two ``buildah bud --no-cache`` builds of the reproducible slim Dockerfile (same
    context): the IDs, whether they are equal, the storage driver and the times."""
    context = repro_context(model)
    name = f"localhost/{prefix}/slim-buildah"
    _buildah(["rmi", "--prune"], driver or storage_driver(), check=False)  # earlier runs' leftovers
    runs = [
        buildah_build(context, f"{name}:run{i}", timestamp=timestamp, layers=layers, driver=driver)
        for i in (1, 2)
    ]
    return {
        "same_id": runs[0].image_id == runs[1].image_id,
        "ids": [r.image_id for r in runs],
        "tags": [r.tag for r in runs],
        "seconds": [round(r.seconds, 1) for r in runs],
        "driver": runs[0].driver,
        "options": runs[0].options,
        "layers": layers,
    }


def buildah_to_docker(tag: str, docker_tag: str, driver: str | None = None) -> str:
    """``buildah push tag docker-daemon:docker_tag``; the ID the Docker engine gives it."""
    from mllab.containers.engine import client

    _buildah(["push", tag, f"docker-daemon:{docker_tag}"], driver or storage_driver())
    return client().images.get(docker_tag).id


def buildah_oci_digest(tag: str, driver: str | None = None) -> dict[str, Any]:
    """Push ``tag`` to an OCI layout folder (what a registry push would upload) and read the
    manifest digest: the digest a registry would list for this push (layers gzip-compressed by
    buildah; another pusher may compress differently and get another digest)."""
    with tempfile.TemporaryDirectory(prefix="mllab-oci-") as tmp:
        _buildah(["push", tag, f"oci:{tmp}:image"], driver or storage_driver())
        index = json.loads(Path(tmp, "index.json").read_text())
        manifest = index["manifests"][0]
        body = Path(tmp, "blobs", *manifest["digest"].split(":")).read_bytes()
        return {
            "manifest_digest": manifest["digest"],
            "recomputed": "sha256:" + hashlib.sha256(body).hexdigest(),
            "media_type": manifest.get("mediaType"),
            "layers": [layer["digest"] for layer in json.loads(body)["layers"]],
        }


def buildah_remove(tags: list[str], driver: str | None = None) -> None:
    """Remove buildah images made here (quietly when gone)."""
    for tag in tags:
        _buildah(["rmi", "-f", tag], driver or storage_driver(), check=False)


# --- BuildKit: rewrite-timestamp ---------------------------------------------------------------


def buildkit_command(context: Path, tag: str, epoch: int = EPOCH) -> list[str]:
    """The BuildKit way to a reproducible image (Docker ≥ 25 with buildx ≥ 0.13): every file
    mtime in the layers is clamped to ``SOURCE_DATE_EPOCH`` when the image is exported."""
    return [
        "docker", "buildx", "build", "--no-cache",
        "--build-arg", f"SOURCE_DATE_EPOCH={epoch}",
        "--output", f"type=docker,name={tag},rewrite-timestamp=true",
        "-f", str(context / "Dockerfile"), str(context),
    ]  # fmt: skip


def buildkit_status() -> str | None:
    """None when ``docker buildx`` and an engine ≥ 25 are here; otherwise why not."""
    from mllab.containers.engine import engine_version

    version = engine_version() or "none"
    major = int(re.match(r"\d+", version).group()) if re.match(r"\d+", version) else 0
    buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True)
    missing = []
    if buildx.returncode != 0:
        missing.append("without buildx")
    if major < 25:
        missing.append("older than 25")
    return f"Docker {version} {' and '.join(missing)}" if missing else None


def buildkit_rewrite_timestamp(prefix: str = PREFIX, model=None) -> dict[str, Any]:
    """Two BuildKit builds with ``rewrite-timestamp=true``: same ID or not. Where BuildKit
    cannot do it here, the status says why and the command is shown: never silently skipped."""
    from mllab.containers.engine import client

    tag = f"{prefix}/slim-buildkit"
    if status := buildkit_status():
        shown = buildkit_command(ARTIFACTS / "repro" / "slim-buildah", f"{tag}:run1")
        return {"status": f"not available: {status}", "command": " ".join(shown)}
    context = repro_context(model)
    ids, command = [], []
    for run in ("run1", "run2"):
        command = buildkit_command(context, f"{tag}:{run}")
        for key, value in slim_buildargs(context).items():
            command[3:3] = ["--build-arg", f"{key}={value}"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return {"status": f"failed: {done.stderr.strip()[-500:]}", "command": " ".join(command)}
        ids.append(client().images.get(f"{tag}:{run}").id)
    return {"status": "ok", "same_id": ids[0] == ids[1], "ids": ids, "command": " ".join(command)}


# --- the mmdebstrap base ------------------------------------------------------------------------


def base_tar_twice(prefix: str = PREFIX, keep_images: bool = False) -> dict[str, Any]:
    """Run ``docker/base/build-base`` twice with the same SOURCE_DATE_EPOCH: the tar sha256s
    (equal: reproducible) and the imported image IDs (``docker import`` stamps the time of
    the import into the config, so those differ). ~20 s per run; needs Debian's mirror."""
    from mllab.containers.engine import client
    from mllab.containers.images import BUILD_BASE_SCRIPT

    runs = []
    with tempfile.TemporaryDirectory(prefix="mllab-base-") as tmp:
        for i in (1, 2):
            tag, tarball = f"{prefix}/base:run{i}", Path(tmp, f"base{i}.tar")
            start = time.perf_counter()
            done = subprocess.run(
                [str(BUILD_BASE_SCRIPT), tag, str(tarball)], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise BuildError(f"build-base failed:\n{done.stderr.strip()[-1500:]}")
            image = client().images.get(tag)
            runs.append(
                {
                    "tag": tag,
                    "tar_sha256": _sha256(tarball),
                    "tar_mb": round(tarball.stat().st_size / 1e6, 1),
                    "image_id": image.id,
                    "diff_id": image.attrs["RootFS"]["Layers"][0],
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
    if not keep_images:
        for run in runs:
            client().images.remove(run["tag"], force=True)
    return {
        "same_sha256": runs[0]["tar_sha256"] == runs[1]["tar_sha256"],
        "same_diff_id": runs[0]["diff_id"] == runs[1]["diff_id"],
        "same_image_id": runs[0]["image_id"] == runs[1]["image_id"],
        "runs": runs,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", "the script's default"),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def remove_images(prefix: str = PREFIX) -> list[str]:
    """Remove the Docker images tagged under ``prefix/`` (only those: never anyone else's)."""
    from mllab.containers.engine import client

    removed = []
    for image in client().images.list():
        for tag in image.tags:
            if tag.startswith(f"{prefix}/"):
                client().images.remove(tag, force=True)
                removed.append(tag)
    return removed


# --- summaries for the lab's record ---------------------------------------------------------------


def rebuild_summary(runs: dict[str, Any], nocache: ImageComparison | None) -> dict[str, Any]:
    """What :func:`docker_rebuilds` and the comparison of ``:first`` with ``:nocache`` showed,
    as plain values for ``mllab.core.records.record``."""
    first, cached = runs["builds"]["first"], runs["builds"]["cached"]
    summary: dict[str, Any] = {
        "docker_cached": {
            "same_id": cached.image_id == first.image_id,
            "cache_hits": len(cached.cache_hits),
            "steps": len(cached.steps),
        }
    }
    if nocache is not None:
        summary["docker_nocache"] = nocache.summary()
    return summary


def cache_summary(cache: dict[str, Any]) -> dict[str, Any]:
    """The parts of :func:`cache_experiment` that the claims read (C10, C11)."""
    return {
        "cache": {k: cache[k] for k in ("model_change", "lock_change", "lock_same_image")},
        "model_layer": cache["model_layer"],
    }


def smoke_test(tag: str, name: str) -> dict[str, Any]:
    """Run ``tag`` as the server until ``/ready`` answers; the seconds it took and the
    onnxruntime version inside. The container is removed afterwards."""
    from mllab.containers.images import run

    start = time.perf_counter()
    with run(tag, name=name) as container:
        ready_s = time.perf_counter() - start
        script = "import onnxruntime; print(onnxruntime.__version__)"
        code, out = container.exec(["python", "-c", script])
        lines = out.strip().splitlines()  # ORT may log a warning line first
        return {"url": container.url, "ready_s": round(ready_s, 2),
                "onnxruntime": lines[-1] if lines else "", "exec_exit_code": code}  # fmt: skip


def attempt(fn, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``fn(*args, **kwargs)``, or ``{"status": "failed: <why>"}`` when it raises one of the
    kit's typed errors (a mirror or PyPI out of reach, no buildah): a lab records the reason
    instead of stopping, and the claims table shows it."""
    try:
        return fn(*args, **kwargs)
    except MllabError as error:
        return {"status": f"failed: {type(error).__name__}: {str(error)[:400]}"}
