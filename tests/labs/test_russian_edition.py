"""The Russian student edition (``mllab labs student --lang ru``), from one source per lab.

Every text cell of a translated lab carries its Russian version (``metadata.mllab.ru``) with the
same headings and the same code identifiers; every self-check message template of a translated
exercise module, and every word of the hidden cases the grader's feedback shows, has a Russian
version in the catalogue (read from the modules' source, so a new message without one fails
here); the lecture's headings are quoted as the lecture spells them;
the edition swaps the text, sets the kernel's message language and keeps the code cells; and,
executed with nbclient, an untouched Russian edition says of every exercise, in Russian, that it
is not done yet (slow)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from labs.test_student_editions import CHEAP, _run_param, _with_parameters  # tests/: on the path
from nbclient import NotebookClient
from source_strings import templates  # tests/: on the path

from mllab.core.paths import LABS
from mllab.exercises import messages, messages_ru
from mllab.exercises.check import NOT_DONE, Check
from mllab.report import edition_language, editions, runner

NOTEBOOKS = {runner.lab_id(nb): nb for nb in runner.discover(LABS)}
#: the labs whose every text cell must have its Russian version: all of them
TRANSLATED = tuple(NOTEBOOKS)
#: the Russian editions executed here (slow): the code cells are the English edition's, which
#: test_student_editions runs for every lab, so two labs without Docker show the language part
#: (the setup cell, the messages) without running the long labs twice in CI
EXECUTED = ("00", "05")
EXERCISES = Path(messages.__file__).parent
#: strings of the translated modules that are data, never shown as a message
NOT_MESSAGES = {
    "str | None",
    "Debian GNU/Linux 12 (bookworm)",
    "/usr/local/bin/python3",
    "/home/me/.venv/bin/python",
    "made-up",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    # lab04: Dockerfile lines and file names the exercise hands in or builds
    "--no-cache-dir ",
    "--require-hashes ",
    "/opt/app",
    "/srv/model",
    'CMD ["python", "inference.py", "--port", "{}"]',
    'CMD ["python", "inference.py"]',
    "COPY inference.py .",
    "COPY inference.py {}",
    "COPY model.onnx .",
    "COPY model.onnx {}",
    "COPY requirements.txt .",
    "COPY requirements.txt {}",
    "Dockerfile.interface",
    "FROM python:3.11-slim",
    "RUN pip install --no-cache-dir -r requirements.txt",
    "RUN pip install {}-r requirements.txt",
    "RUN useradd",
    "WORKDIR /app",
    "inference.py",
    "mllab.serve.app",
    "model.onnx",
    "python:3.10-slim-bookworm",
    # lab06: the made-up multi-stage Dockerfile of the reproducible-build check
    "ARG BASE=python:3.11-slim\nFROM ${} AS build\nRUN pip wheel --no-deps --wheel-dir /w "
    "numpy==2.1.3\nFROM ${}\nCOPY --from=build /w /w\nRUN useradd --uid 10001 app && pip "
    "install /w/*.whl\nUSER app\n",
    # lab07: a command line shown as it is; lab08: an outcome value (the student returns it)
    "docker run --cpus={} -e THREADS={} -p 8080:8080 {}",
    "rolled back",
    "tags={}, release={}, build={}",  # lab08: the arguments of a case, shown as they are
    # the hidden cases: compiled code's file names, a scratch folder's prefix, made-up data and
    # the keys that pick a case's kind (never shown)
    "<answer cell {}>",
    "<the lab's imports>",
    "mllab-hidden-",
    "only-here",
    "one side",
    "the failed",
}
#: the lecture's headings (000_*.txt, outside code blocks), as the lecture spells them: what a
#: lab may quote in «…» to send the student to a section
LECTURE_HEADINGS = frozenset(
    """Контейнеризация и упаковка ML-моделей с Docker|Введение: зачем контейнеризация в
    ML-эксплуатации|От виртуальных машин к контейнерам|Виртуальные машины|Контейнеры|Проблема
    зависимости окружений в ML|Контейнер как формализация среды|Контейнеризация и инженерная
    воспроизводимость|Детерминизация вычислений|Reproducible build|Криптографическая
    идентичность|От виртуального окружения к контейнеру|Виртуальное окружение|Docker-контейнер|
    Контейнеризация как смена парадигмы|Практическая перспектива|Python-скрипт|Dockerfile|
    Архитектура Docker и механизм контейнеров|Изоляция|Воспроизводимость|Управляемость ресурсов|
    Концептуальная схема Docker|Пространства имён (Namespaces)|PID namespace|NET namespace|MNT
    namespace|UTS namespace|IPC namespace|USER namespace|Контроль ресурсов: cgroups|Файловые
    системы и OverlayFS|Сеть и взаимодействие контейнеров|bridge|host|none|custom networks|Слои
    образа и кэширование|Пример Dockerfile|Хэш-функция слоёв|Различие между образом и
    контейнером|Образ (Image)|Контейнер (Container)|Математическая модель контейнерной изоляции|
    Docker как формальная реализация воспроизводимой среды|Архитектура Docker: заключение|
    Построение Dockerfile для ML-моделей|Семантика Dockerfile|Базовые образы|Модель как часть
    образа|Добавление зависимостей|CMD и ENTRYPOINT: интерфейс инференса|CMD|ENTRYPOINT|
    Инженерные принципы минимизации размера|Multi-stage builds|Удаление временных файлов|
    Использование slim-баз|Контроль GPU-доступа|Переменные окружения и конфигурация|Определение
    в Dockerfile|Переопределение при запуске|Пример полного Dockerfile|Проверка
    воспроизводимости контейнера|Инженерные соображения при создании Dockerfile|
    Воспроизводимость и версионирование окружения|Понятие *reproducible build*|Теги и версии
    образов|Immutable builds|Контроль зависимостей и версий|Docker Registry и хранение
    артефактов|Проверка идентичности контейнеров|Управление версиями CUDA и драйверов|Практика
    версионирования в CI/CD|Проверка детерминированности сборки|Верификация среды и контроль
    целостности|Инференс внутри контейнера|Внутренний цикл инференса|ONNX Runtime как ядро
    инференса|Управление ресурсами CPU/GPU внутри контейнера|Измерение latency и throughput|
    Пример кода для измерения|Формулы|Параллелизм и batch-инференс|Мониторинг потребления
    ресурсов|Сравнение инференса внутри и вне контейнера|Влияние ограничений ресурсов на
    производительность|Воспроизводимость численных результатов|Контейнеры в нагрузочном
    тестировании|Переносимость контейнера между средами|Практический пример инференса|Выводы:
    инференс внутри контейнера""".replace("\n    ", " ")
    .replace("| ", "|")
    .replace("- ", "-")
    .split("|")
)
CYRILLIC = re.compile(r"[а-яё]", re.I)
CODE_SPAN = re.compile(r"`[^`]+`")  # a span may break across a line
RUSSIAN_NOT_DONE = messages.frame("not_done", "ru")


def _markdown(lab: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(NOTEBOOKS[lab], as_version=4)
    return [c for c in nb.cells if c.cell_type == "markdown"]


def _code(text: str) -> set[str]:
    """The inline code of a markdown text (identifiers, commands), a line break as a space."""
    return {" ".join(span.split()) for span in CODE_SPAN.findall(text)}


def _russian(cell: nbformat.NotebookNode) -> str:
    return str(cell.metadata.get("mllab", {}).get("ru", ""))


@pytest.mark.parametrize("lab", TRANSLATED)
def test_every_text_cell_of_a_translated_lab_has_its_russian_version(lab: str):
    cells = _markdown(lab)
    untranslated = edition_language.untranslated(nbformat.read(NOTEBOOKS[lab], 4), "ru")
    assert not untranslated, f"text cells without metadata.mllab.ru: {untranslated}"
    for cell in cells:
        english, russian = str(cell.source), _russian(cell)
        first = english.splitlines()[0]
        assert CYRILLIC.search(russian) and russian != english, f"not Russian: {first}"
        heading = re.match(r"#+ ", english)
        assert not heading or russian.startswith(heading.group()), f"heading level: {first}"
        numbered = re.match(r"#+ (\d+\.)", english)
        assert not numbered or russian.split()[1] == numbered.group(1), f"numbering: {first}"
        assert _code(russian) == _code(english), f"code identifiers: {first}"


@pytest.mark.parametrize("lab", TRANSLATED)
def test_no_translation_is_older_than_its_english_text(lab: str):
    """A paragraph edited in English after it was translated must be translated again."""
    nb = nbformat.read(NOTEBOOKS[lab], as_version=4)
    stale = [nb.cells[i].source.splitlines()[0] for i in edition_language.stale(nb, "ru")]
    assert not stale, f"English changed since the Russian was written (update mllab.ru): {stale}"
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += "\nOne more sentence."
    assert edition_language.stale(nb, "ru"), "an edit of the English text is noticed"


def test_the_lecture_is_quoted_as_it_spells_its_headings():
    quoted = [
        (f"lab {lab}", q)
        for lab in TRANSLATED
        for cell in _markdown(lab)
        for q in re.findall(r"«([^»]+)»", _russian(cell))
    ]
    quoted += [
        ("catalogue", q)
        for t in messages_ru.CATALOGUE.values()
        for q in re.findall(r"«([^»]+)»", t)
    ]
    assert quoted, "the translated labs send the student to the lecture's sections"
    wrong = [(where, q) for where, q in quoted if q not in LECTURE_HEADINGS]
    assert not wrong, f"not a heading of the lecture as it spells it: {wrong}"


def message_templates(module: str) -> set[str]:
    """Every string of ``mllab/exercises/<module>.py`` with two words or more (docstrings left
    out) as a template: each ``{…}`` of an f-string or of a ``str.format`` text written ``{}``.
    The hidden cases' words (group names, case labels, reasons) count too: the grader's
    feedback shows them to a student of the Russian edition in Russian."""
    words = r"[A-Za-z]{2,}[^\w{}]+[A-Za-z]{2,}"
    return templates(EXERCISES / f"{module}.py", words) - NOT_MESSAGES


@pytest.mark.parametrize("module", messages_ru.MODULES)
def test_every_message_of_a_translated_module_has_a_russian_version(module: str):
    missing = sorted(message_templates(module) - set(messages_ru.CATALOGUE))
    assert not missing, f"messages of {module}.py without a Russian version: {missing}"


def test_the_catalogue_keeps_each_messages_holes():
    for english, russian in messages_ru.CATALOGUE.items():
        holes = len(re.findall(r"\{=?\}", russian))
        assert holes == english.count("{}"), f"holes differ: {english!r} -> {russian!r}"
        assert CYRILLIC.search(russian) or russian == english, f"not Russian: {russian!r}"


def test_the_extractor_finds_an_untranslated_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The coverage test can fail: a module with a new message is caught."""
    module = tmp_path / "lab99.py"
    module.write_text(
        'def f(x):\n    """Doc string here."""\n    return f"got {x}, not the answer"\n'
    )
    monkeypatch.setattr(sys.modules[__name__], "EXERCISES", tmp_path)
    assert message_templates("lab99") == {"got {}, not the answer"}


def test_self_check_lines_in_english_by_default_and_in_russian_when_asked(
    monkeypatch: pytest.MonkeyPatch,
):
    section = next(k for k in messages_ru.lab00.RU if k.startswith("«Проверка идентичности"))
    wrong = Check(
        "ex00_diff", True, False, "expected a list of dotted field paths, got str", section
    )
    todo = Check("ex00_diff", False, False, NOT_DONE, section)
    monkeypatch.delenv(messages.LANG_ENV, raising=False)
    assert str(todo) == f"… ex00_diff: {NOT_DONE}.\n  Lecture: {section}"
    assert "Reread the lecture" in str(wrong) and "expected a list" in str(wrong)
    monkeypatch.setenv(messages.LANG_ENV, "ru")
    assert str(todo).startswith(f"… ex00_diff: {RUSSIAN_NOT_DONE}.\n  Лекция: «Проверка")
    said = str(wrong)
    assert "ожидался список путей к полям через точку, получено str" in said
    assert "Перечитайте в лекции" in said and "сравнение поле за полем" in said
    assert wrong.message.startswith("expected"), "the message itself stays English for graders"


def test_nested_messages_are_translated_inside_out():
    text = "differing_fields on a made-up pair: expected a list of dotted field paths, got str"
    assert messages.translate(text) == (
        "differing_fields на придуманной паре: ожидался список путей к полям через точку, "
        "получено str"
    )
    said = messages.translate("your function raised ValueError: bad (line 3 of f)")
    assert said == "ваша функция выбросила исключение ValueError: bad (строка 3 функции f)"
    assert messages.translate("no template here: 42") == "no template here: 42"


def test_the_language_comes_from_mllab_lang(monkeypatch: pytest.MonkeyPatch):
    assert edition_language.LANG_ENV == messages.LANG_ENV
    for value, lang in (("ru", "ru"), ("ru_RU.UTF-8", "ru"), ("en", "en"), ("de", "en")):
        monkeypatch.setenv(messages.LANG_ENV, value)
        assert messages.language() == lang


@pytest.fixture(scope="module")
def russian_editions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("russian")
    made = editions.make_student_editions(
        only=list(TRANSLATED), out=root / "workspace", course=root / "course", lang="ru"
    )
    assert [(e.lang, e.untranslated) for e in made] == [("ru", 0)] * len(TRANSLATED)
    assert all(e.status == "written" for e in made)
    return root / "workspace"


@pytest.mark.parametrize("lab", TRANSLATED)
def test_the_russian_edition_swaps_the_text_and_keeps_the_code(lab: str, russian_editions: Path):
    notebook = NOTEBOOKS[lab]
    edition = nbformat.read(russian_editions / notebook.name, as_version=4)
    editions.check_edition(russian_editions / notebook.name)
    source = nbformat.read(notebook, as_version=4)
    texts = [c.source for c in edition.cells if c.cell_type == "markdown"]
    assert texts == [_russian(c) for c in source.cells if c.cell_type == "markdown"]
    setup = [c for c in edition.cells if edition_language.SETUP_TAG in c.metadata.get("tags", [])]
    assert [c.source.splitlines()[-1] for c in setup] == ["%env MLLAB_LANG=ru"]
    code = [c for c in edition.cells if c.cell_type == "code" and c not in setup]
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in code] == [
        c.metadata.get("nbgrader", {}).get("grade_id")
        for c in source.cells
        if c.cell_type == "code"
    ]
    answers = [c for c in code if c.metadata.get("nbgrader", {}).get("solution")]
    assert all("raise NotImplementedError()" in c.source for c in answers)
    assert edition.metadata.mllab.lang == "ru"


@pytest.mark.parametrize("notebook", [_run_param(NOTEBOOKS[lab]) for lab in EXECUTED])
def test_the_russian_edition_runs_to_the_end_saying_not_done_in_russian(
    notebook: Path, russian_editions: Path, tmp_path: Path
):
    """What the English edition's run test does (slow; Docker for the labs that build), in
    Russian: every exercise says, in Russian, that it is not done yet."""
    lab = runner.lab_id(notebook)
    nb = nbformat.read(russian_editions / notebook.name, as_version=4)
    _with_parameters(nb, CHEAP[lab])
    with runner.recording_into(tmp_path / "results"):
        try:
            NotebookClient(
                nb,
                kernel_name=runner.KERNEL,
                timeout=runner.CELL_TIMEOUT_S,
                resources={"metadata": {"path": str(russian_editions)}},
            ).execute()
        finally:
            runner.after_lab(notebook)
    nbformat.write(nb, tmp_path / notebook.name)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded
    for cell in graded:
        said = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        grade_id = cell.metadata.nbgrader.grade_id
        assert RUSSIAN_NOT_DONE in said and "Лекция: «" in said, f"{grade_id}: {said!r}"
        assert NOT_DONE not in said, f"{grade_id} spoke English"
