"""The Russian versions of the messages of ``mllab/exercises/check.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "not done yet: the lab goes on with the kit's reference": (
        "ещё не сделано: лабораторная работа продолжается с эталонным решением mllab"
    ),
    "the lab goes on with the kit's reference": (
        "лабораторная работа продолжается с эталонным решением mllab"
    ),
    "the answer matches the kit's reference": "ответ совпадает с эталонным решением mllab",
    "an array of shape {}": "массив формы {=}",
    "{}: expected {}, got {}": "{}: ожидалось {=}, получено {=}",
    " (line {} of {})": " (строка {=} функции {=})",
    "interrupted (stop button or time limit): does your function ever return?": (
        "прервано (кнопка остановки или предел времени): завершается ли ваша функция?"
    ),
    "your function raised {}": "ваша функция выбросила исключение {}",
    "the answer could not be checked: {}": "ответ не удалось проверить: {}",
    "{}: expected one answer per case, got {}": (
        "{}: ожидался один ответ на каждый случай, получено {=}"
    ),
    " on {}: {}": " на {}: {}",
    "{}: the function returned None (a missing return?)": (
        "{}: функция вернула None (пропущен return?)"
    ),
    "{}: expected shape {}, got {}": "{}: ожидалась форма {=}, получена {=}",
}
