"""The language of a student edition: English (the labs as written) or Russian.

One source per lab: ``labs/NN_name.ipynb`` holds the English text in each markdown cell's source
and its Russian version in that cell's ``metadata.mllab.ru``. Why cell metadata and not a
catalogue beside the notebook: the two versions of a paragraph travel together, so a helper who
edits or moves a cell sees (and keeps) its translation, a cell added without one is found by
position, and nbgrader's ``generate_assignment`` keeps cell metadata as it is. The code cells
exist once; their identifiers are never translated.

Beside the translation, ``metadata.mllab.ru_of`` holds a short sha256 of the English text it
was made from, so a paragraph edited in English after its translation is found (:func:`stale`).

The Russian edition swaps each markdown cell's source for its Russian text and adds, right after
the ``parameters`` cell, a setup cell ``%env MLLAB_LANG=ru`` (input collapsed in JupyterLab):
the kernel's self-check messages (``mllab.exercises.messages``) follow that variable, under
JupyterLab, nbclient and a grading run alike. The instructor edition (what papermill runs) is
never changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mllab.core.errors import MllabError
from mllab.core.hashing import sha256_bytes

if TYPE_CHECKING:  # nbformat's import costs ~1 s (jsonschema): each lab's facade reaches this
    from nbformat import NotebookNode  # module (lab_plan's constants), and only editions need it

LANGUAGES = ("en", "ru")
DEFAULT = "en"
#: the kernel's environment variable the self-check messages follow (mllab.exercises.messages)
LANG_ENV = "MLLAB_LANG"
#: the tag of the setup cell that sets it in a translated edition
SETUP_TAG = "mllab-language"


def source_digest(text: str) -> str:
    """The short sha256 of a cell's English text, stored beside its translation
    (``metadata.mllab.ru_of``): a cell whose English changed later shows a stale translation."""
    return sha256_bytes(text.encode())[:12]


def stale(nb: NotebookNode, lang: str) -> list[int]:
    """The indices of the markdown cells whose text in ``lang`` was made from another English
    text than the cell holds now (edited since it was translated)."""
    found = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("mllab", {})
        if cell.cell_type == "markdown" and lang in meta:
            if meta.get(f"{lang}_of") != source_digest(str(cell.source)):
                found.append(i)
    return found


def check_language(lang: str) -> str:
    """``lang`` if the kit has editions in it, else a typed error naming those it has."""
    if lang not in LANGUAGES:
        raise MllabError(f"no student edition in {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


def translation(cell: NotebookNode, lang: str) -> str | None:
    """The text of a markdown cell in ``lang`` (None when it has none yet)."""
    if lang == DEFAULT:
        return str(cell.source)
    text = cell.get("metadata", {}).get("mllab", {}).get(lang)
    return str(text) if isinstance(text, str) and text.strip() else None


def untranslated(nb: NotebookNode, lang: str) -> list[int]:
    """The indices of the markdown cells of ``nb`` that have no text in ``lang``."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown" and translation(cell, lang) is None
    ]


def setup_cell(lang: str) -> NotebookNode:
    """The cell that sets the kernel's message language (input collapsed in JupyterLab)."""
    source = f"# язык сообщений самопроверки / self-check language\n%env {LANG_ENV}={lang}"
    metadata = {"tags": [SETUP_TAG], "jupyter": {"source_hidden": True}, "editable": False}
    from nbformat.v4 import new_code_cell  # deferred: see the imports

    return new_code_cell(source, metadata=metadata)


def localize(nb: NotebookNode, lang: str) -> list[int]:
    """Turn the student edition ``nb`` into ``lang`` in place; returns the indices (in ``nb``
    as given) of the markdown cells left in English because they have no translation yet."""
    check_language(lang)
    missing = untranslated(nb, lang)
    if lang == DEFAULT:
        return missing
    for cell in nb.cells:
        text = translation(cell, lang) if cell.cell_type == "markdown" else None
        if text is not None:
            cell.source = text
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), -1)
    nb.cells.insert(first_code + 1, setup_cell(lang))
    nb.metadata.setdefault("mllab", {})["lang"] = lang
    return missing
