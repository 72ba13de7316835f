"""A reading: the sentences that interpret one result, in the student's language.

The language is the kernel's ``MLLAB_LANG`` (the variable the Russian edition's setup cell sets,
:data:`mllab.report.edition_language.LANG_ENV`), read here rather than through
``mllab.exercises.messages``: report and exercises are sibling layers and do not import each
other. The English and the Russian sentences are built side by side from the same numbers, so a
reading cannot say one thing in one language and another in the other.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field

from mllab.report.edition_language import DEFAULT, LANG_ENV, LANGUAGES

#: the column a printed reading wraps at
WIDTH = 100


def language() -> str:
    """``MLLAB_LANG`` (``ru``, ``ru_RU.UTF-8``, ``en``) when it names a kit language, else
    English."""
    value = os.environ.get(LANG_ENV, "").strip().lower()[:2]
    return value if value in LANGUAGES else DEFAULT


@dataclass
class Reading:
    """Which case a result is in (``case``, a short key the tests and other code can ask) and
    the sentences that say so and why, in English (``en``) and Russian (``ru``)."""

    case: str
    en: list[str] = field(default_factory=list)
    ru: list[str] = field(default_factory=list)

    def say(self, en: str, ru: str) -> None:
        """Add one sentence, in both languages."""
        self.en.append(en)
        self.ru.append(ru)

    def text(self, lang: str | None = None) -> str:
        """The sentences in ``lang`` (default: :func:`language`), one paragraph."""
        return " ".join(self.ru if (lang or language()) == "ru" else self.en)

    def __str__(self) -> str:
        # wrapped as the kit's tables are wide: a paragraph reads in a terminal and a report
        return textwrap.fill(self.text(), WIDTH)


def pct(ratio: float) -> str:
    """A ratio's change as a signed percentage: 0.76 -> "−24 %", 1.2 -> "+20 %"."""
    change = 100.0 * (ratio - 1.0)
    return f"{'+' if change >= 0 else '−'}{abs(change):.0f} %"
