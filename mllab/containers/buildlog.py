"""Reading the legacy builder's output: each step, whether it was a cache hit, the image ID."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.containers.kinds import LogFn
from mllab.core.errors import BuildError
from mllab.core.records import results_dir
from mllab.core.tables import WIDTH, cut


@dataclass
class BuildStep:
    """One Dockerfile instruction as the builder ran it."""

    number: int
    instruction: str
    cached: bool = False
    image: str = ""  # the short ID of the image this step left (" ---> 1ff1bddc8942")
    log: list[str] = field(default_factory=list)

    @property
    def makes_layer(self) -> bool:
        """False for ``FROM`` and the ``ARG`` before it: they select an image, they build none."""
        return bool(self.image) and not self.instruction.upper().startswith("FROM ")


@dataclass
class BuildResult:
    """What a build made: the image, each step (cache hit or not) and the wall time."""

    tag: str
    image_id: str | None
    steps: list[BuildStep]
    seconds: float = 0.0
    skipped: bool = False  # the tag already held an image of the same inputs

    @property
    def cache_hits(self) -> list[str]:
        """The instructions that were answered from the layer cache ("Using cache")."""
        return [s.instruction for s in self.steps if s.cached]

    @property
    def rebuilt(self) -> list[str]:
        """The instructions that ran in this build (``FROM`` and global ``ARG`` left out)."""
        return [s.instruction for s in self.steps if s.makes_layer and not s.cached]

    @property
    def stage_images(self) -> list[str]:
        """The image each build stage ended with (the last one is the result)."""
        ends = [i for i, s in enumerate(self.steps) if s.instruction.upper().startswith("FROM ")]
        ends = [i - 1 for i in ends[1:]] + [len(self.steps) - 1]
        return [self.steps[i].image for i in ends if i >= 0 and self.steps[i].image]

    def summary(self) -> dict[str, Any]:
        """JSON-able: tag, id, seconds, counts, and each step with its cache flag."""
        return {
            "tag": self.tag,
            "image_id": self.image_id,
            "seconds": round(self.seconds, 2),
            "skipped": self.skipped,
            "steps": len(self.steps),
            "cache_hits": len(self.cache_hits),
            "rebuilt": len(self.rebuilt),
            "stage_images": self.stage_images,
            "step_cache": [
                {"instruction": s.instruction, "cached": s.cached, "layer": s.makes_layer}
                for s in self.steps
            ],
        }


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_build_stream(
    chunks: Iterable[dict[str, Any]], on_log: LogFn | None = print, tag: str = ""
) -> BuildResult:
    """Follow the legacy builder's JSON stream: steps, "Using cache", the image ID, errors.

    An ``error`` in the stream becomes :class:`BuildError` carrying the failing step's log.
    """
    steps: list[BuildStep] = []
    image_id = None
    pending = ""
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            message = chunk.get("error") or chunk["errorDetail"].get("message", "")
            step = steps[-1] if steps else None
            where = f" at step {step.number} `{step.instruction}`" if step else ""
            rest = [_ANSI.sub("", pending)] if pending.strip() else []
            tail = "\n".join((step.log if step else [])[-30:] + rest)
            raise BuildError(
                f"building {tag or 'the image'} failed{where}: {message.strip()}\n"
                + (f"--- the step's log ---\n{tail}" if tail.strip() else "")
            )
        if isinstance(chunk.get("aux"), dict) and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        text = chunk.get("stream")
        if not text:
            continue
        pending += text
        *lines, pending = pending.split("\n")
        for line in lines:
            line = _ANSI.sub("", line)  # the builder paints a RUN's stderr red
            _follow(line, steps)
            if on_log:
                on_log(line)
            match = re.match(r"Successfully built ([0-9a-f]+)", line)
            if match and not image_id:
                image_id = match.group(1)
    if pending:
        pending = _ANSI.sub("", pending)
        _follow(pending, steps)
        if on_log:
            on_log(pending)
    return BuildResult(tag=tag, image_id=image_id, steps=steps)


def _follow(line: str, steps: list[BuildStep]) -> None:
    """Attach one line of builder output to the step it belongs to."""
    match = _STEP.match(line)
    if match:
        steps.append(BuildStep(int(match.group(1)), match.group(3).strip()))
    elif steps:
        steps[-1].log.append(line)
        text = line.strip()
        if text == "---> Using cache":
            steps[-1].cached = True
        elif re.fullmatch(r"---> [0-9a-f]{12,64}", text):
            steps[-1].image = text.removeprefix("---> ")


def steps_only(line: str) -> None:
    """An ``on_log`` for notebooks: print the ``Step n/N`` lines and cache hits, not the logs."""
    if line.startswith("Step "):
        print(cut(line, WIDTH))  # the instruction's start; the whole log is in the record
    elif line.strip() == "---> Using cache":
        print("   (cache)")


class LogFile:
    """An ``on_log`` for notebooks that keeps a build's (or a download's) whole log in this
    run's folder (``<results>/logs/<name>.log``) and prints nothing: the notebook shows
    :meth:`summary`, one line, instead of a wall of ``Step n/N`` and pip lines."""

    def __init__(self, name: str) -> None:
        self.path: Path = results_dir() / "logs" / f"{name}.log"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self.lines = 0

    def __call__(self, line: str) -> None:
        with self.path.open("a") as out:
            out.write(line.rstrip("\n") + "\n")
        self.lines += 1

    def summary(self) -> str:
        """``log: 84 lines in`` and ``<path>`` on the next line, indented (the place to look
        when something went wrong; a run's folder can be a long path, and a path cannot wrap)."""
        return f"log: {self.lines} lines in\n    {self.path}"
