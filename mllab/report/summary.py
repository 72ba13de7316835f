"""What a lab run produced: how each lab went, and the run as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LabResult:
    """How one lab went."""

    lab: str
    notebook: str
    status: str  # "passed" | "failed"
    duration_s: float
    output: str
    failed_cell: int | None = None
    error: str | None = None
    source: str | None = None  # the failing cell's code


@dataclass
class RunSummary:
    """A whole run: where it lives and how each lab went."""

    out: str
    started_at: str
    results: list[LabResult] = field(default_factory=list)

    @property
    def failed(self) -> list[LabResult]:
        return [r for r in self.results if r.status != "passed"]

    @property
    def passed(self) -> int:
        return len(self.results) - len(self.failed)
