"""The grader's own words that a student reads, in English and in Russian.

``mllab labs grade`` reads each submission's language from its notebook (``mllab labs student
--lang``; :func:`mllab.report.grading.edition_language`) and passes it down to the code that
words a grade: the per-exercise feedback (``pass``, ``not done``, a dead kernel, a time limit,
the notes on edited self-checks) and the student's page (its title, total and column names).
The self-check's messages and the hidden cases' feedback come in that language already (the
kernel's and the hidden run's ``MLLAB_LANG``); these are the words the grader adds around them.

Why a table here and not :mod:`mllab.exercises.messages`: the layers keep ``report`` from
importing ``exercises``, and these few words are the grader's, not an exercise's. Each entry is
a ``str.format`` template with named holes; the Russian one has the same holes. The instructor's
class summary and grade table stay English (their column names); a student's reasons appear
there in the student's language. ``tests/report/test_grading.py`` fails when an entry has no
Russian version, or when ``grading.py``/``grade_run.py``/``grade_pages.py`` word a student's
grade outside this table.
"""

from __future__ import annotations

from mllab.report.edition_language import DEFAULT

EN: dict[str, str] = {
    # an exercise's feedback
    "pass": "pass",
    "not done": "not done",
    "not submitted": "not submitted",
    "missing": "the answer cell was deleted from the submission",
    "dead": "a dead kernel never counts as passing",
    "did not run": "the self-check did not run",
    "not to its end": "{why}: this self-check did not run to its end ({dead})",
    "did not pass": "the self-check did not pass",
    "hidden failed": "the hidden cases did not all pass",
    "in answer": "in the answer cell",
    "in check": "in the self-check",
    "timed out": "timed out {where}: {value}",
    "raised": "{name} {where}: {value}",
    "does not parse": "the notebook does not parse: {error}",
    # running the submission (grade_run)
    "changed": "your copy of this self-check was changed: the kit's copy was run",
    "deleted": "this self-check was deleted from your notebook: the kit's was run",
    "cell limit": "the cell ran past the time limit of {limit} s and was stopped",
    "in cell of": "in the cell of {grade_id}",
    "in cell": "in cell {number}",
    "kernel died": "the kernel died {where} (os._exit, or a crash)",
    "kernel hung": "the kernel stopped answering after the time limit {where}",
    "not run": "the notebook could not be run: {error}",
    "hidden limit": "the answer ran past the time limit of {limit} s on the hidden cases",
    "hidden exit": (
        "the answer ended the Python process on the hidden cases (exit code {code}: {tail})"
    ),
    "no error shown": "no error shown",
    # the student's page
    "feedback for": "Feedback for {student}",
    "total": "Total: {got} / {most} points.",
    "col lab": "lab",
    "col exercise": "exercise",
    "col points": "points",
    "col feedback": "feedback",
    "col section": "section",
}

RU: dict[str, str] = {
    "pass": "зачтено",
    "not done": "не сделано",
    "not submitted": "не сдано",
    "missing": "ячейка ответа удалена из сданной работы",
    "dead": "упавшее ядро никогда не засчитывается как пройденная проверка",
    "did not run": "самопроверка не запускалась",
    "not to its end": "{why}: эта самопроверка не дошла до конца ({dead})",
    "did not pass": "самопроверка не пройдена",
    "hidden failed": "не все скрытые случаи пройдены",
    "in answer": "в ячейке ответа",
    "in check": "в самопроверке",
    "timed out": "превышен предел времени {where}: {value}",
    "raised": "{name} {where}: {value}",
    "does not parse": "ноутбук не читается: {error}",
    "changed": "ваша копия этой самопроверки изменена: запущена копия mllab",
    "deleted": "эта самопроверка удалена из вашего ноутбука: запущена копия mllab",
    "cell limit": "ячейка работала дольше предела в {limit} с и была остановлена",
    "in cell of": "в ячейке {grade_id}",
    "in cell": "в ячейке {number}",
    "kernel died": "ядро упало {where} (os._exit или сбой)",
    "kernel hung": "ядро перестало отвечать после превышения предела времени {where}",
    "not run": "ноутбук не удалось запустить: {error}",
    "hidden limit": "ответ работал на скрытых случаях дольше предела в {limit} с",
    "hidden exit": ("ответ завершил процесс Python на скрытых случаях (код выхода {code}: {tail})"),
    "no error shown": "ошибка не показана",
    "feedback for": "Отзыв для {student}",
    "total": "Итого баллов: {got} из {most}.",
    "col lab": "лабораторная",
    "col exercise": "упражнение",
    "col points": "баллы",
    "col feedback": "отзыв",
    "col section": "раздел лекции",
}

WORDS: dict[str, dict[str, str]] = {"en": EN, "ru": RU}


def say(key: str, lang: str = DEFAULT, **holes: object) -> str:
    """The grader's words ``key`` in ``lang`` (English for a language it has no table for),
    with ``holes`` filled in."""
    return WORDS.get(lang, EN)[key].format(**holes)
