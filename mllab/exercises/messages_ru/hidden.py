"""The Russian versions of the hidden cases' words: the group names, the case labels and the
reasons of ``mllab/exercises/hidden_run.py``, ``hidden.py``, ``hidden_cases.py`` and
``hidden_measured.py`` (keys: the English templates as those modules write them; see
:mod:`mllab.exercises.messages_ru`). The grader's feedback to a student of the Russian edition
(``mllab labs grade``) shows them in Russian; the records keep the English."""

RU: dict[str, str] = {
    # hidden_run.py: why a group or the whole exercise lost its points
    "not done": "не сделано",
    "a function raising the kit's refusal": "функция, выбрасывающая отказ mllab",
    "no answer within {} s": "нет ответа за {=} с",
    "on {}: your function raised {}": "на {}: ваша функция выбросила исключение {}",
    "the answer cell defines no function {}()": "ячейка ответа не определяет функцию {=}()",
    "the answer {} could not be checked: {}": "ответ {=} не удалось проверить: {}",
    "timed out on the hidden cases: {}": "время на скрытых случаях истекло: {}",
    "your function calls the kit's own answer ({}): the exercise is to write it": (
        "ваша функция вызывает собственный ответ mllab ({}): задание — написать его самим"
    ),
    "{} is the kit's own answer to this exercise": "{=} — собственный ответ mllab на это задание",
    # hidden.py
    "no hidden cases for {}; there are for {}": "нет скрытых случаев для {=}; они есть для {=}",
    "the answer cell raised {}": "ячейка ответа выбросила исключение {}",
    "the answer replaced the kit's own code ({}): an answer that changes the checker scores 0": (
        "ответ заменил собственный код mllab ({=}): ответ, меняющий проверку, получает 0 баллов"
    ),
    "the self-check was interrupted: no hidden cases run": (
        "самопроверка была прервана: скрытые случаи не запускались"
    ),
    # hidden_cases.py, lab 00
    "versions with a two-digit part (12.10 is newer than 12.9)": (
        "версии с двузначной частью (12.10 новее, чем 12.9)"
    ),
    "other majors and equal versions": "другие старшие номера и равные версии",
    "versions of different lengths (12.4.1)": "версии разной длины (12.4.1)",
    "container CUDA {} on a driver up to {}": "CUDA контейнера {=} при драйвере до {=}",
    "nested fields, at any depth": "вложенные поля на любой глубине",
    "a field on one side only": "поле только с одной стороны",
    "the volatile captured_at and hostname left out": (
        "изменчивые captured_at и hostname не учитываются"
    ),
    "fingerprints with nested changes": "отпечатки с вложенными изменениями",
    "a field in one fingerprint only": "поле только в одном отпечатке",
    "fingerprints taken at two times on two hosts": (
        "отпечатки, снятые в два разных момента на двух хостах"
    ),
    "the fields that differ: ": "различающиеся поля: ",
    "missing {}": "не хватает {}",
    "extra {}": "лишние {}",
    # hidden_cases.py, lab 05
    "exact sweeps T(n) = 1000·n/(a + b·n)": "точные прогоны T(n) = 1000·n/(a + b·n)",
    "noisy sweeps (least squares on L(n) = a + b·n)": (
        "зашумлённые прогоны (наименьшие квадраты по L(n) = a + b·n)"
    ),
    "a sweep at batches {} made with a = {} ms, b = {} ms": (
        "прогон по батчам {=}, построенный с a = {=} мс, b = {=} мс"
    ),
    " and {} noise": " и шумом {=}",
    "expected a ≈ {} ms, b ≈ {} ms, got a = {}, b = {}": (
        "ожидалось a ≈ {=} мс, b ≈ {=} мс, получено a = {=}, b = {=}"
    ),
    "the fastest batch, not the largest": "самый быстрый батч, а не самый большой",
    "p99 within the bound (the median is not enough)": (
        "p99 в пределах границы (медианы недостаточно)"
    ),
    "the fitted latency a + b·n within the bound too": (
        "подогнанная latency a + b·n тоже в пределах границы"
    ),
    "no batch within the bound: None": "ни один батч не укладывается в границу: None",
    "a sweep at batches {} (fastest: {}), fitted a = {}, b = {} ms, bound {} ms": (
        "прогон по батчам {=} (самый быстрый: {=}), подогнанные a = {=}, b = {=} мс, граница {=} мс"
    ),
    # hidden_cases.py, lab 07
    "exact sweeps L(c) = s/min(c, c_opt)": "точные прогоны L(c) = s/min(c, c_opt)",
    "latency still falling at the largest quota": "latency ещё падает на самой большой квоте",
    "noisy sweeps (least squares)": "зашумлённые прогоны (наименьшие квадраты)",
    "L(c) at c = {} made with c_opt = {}, scale = {} ms": (
        "L(c) при c = {=}, построенная с c_opt = {=}, scale = {=} мс"
    ),
    "expected c_opt ≈ {}, scale ≈ {} ms; yours (c_opt = {}, scale = {} ms) is up to {} off "
    "at the measured c": (
        "ожидалось c_opt ≈ {=}, scale ≈ {=} мс; ваша кривая (c_opt = {=}, scale = {=} мс) "
        "отклоняется до {=} при измеренных c"
    ),
    # hidden_measured.py, lab 07: limits from a measurement
    "a knee inside the sweep: the smallest quota no larger one beats": (
        "излом внутри прогона: наименьшая квота, которую не обгоняет ни одна бо́льшая"
    ),
    "a lower median within the calls' spread is noise, not a gain": (
        "меньшая медиана в пределах разброса вызовов — шум, а не выигрыш"
    ),
    "fractional quotas: the threads a quota runs at once": (
        "дробные квоты: сколько потоков квота выполняет одновременно"
    ),
    "calls per --cpus quota (medians, ms: {})": "вызовы по квотам --cpus (медианы, мс: {=})",
    # hidden_measured.py, lab 06: deterministic options against the defaults
    "convolutions: the defaults' layout for this CPU is off by more than ε": (
        "свёртки: раскладка по умолчанию для этого CPU отличается больше чем на ε"
    ),
    "a BatchNormalization: a folding of any optimisation level shows": (
        "BatchNormalization: её слияние на любом уровне оптимизации заметно"
    ),
    "a model {}, {} threads": "модель {}, потоков: {=}",
    "with a BatchNormalization": "с BatchNormalization",
    "of convolutions": "из свёрток",
    # hidden_measured.py, lab 02: the binary client, judged by what it sends
    "a batch of one: the logits": "батч из одного: логиты",
    "what goes on the wire: a binary body, not text": (
        "что уходит по сети: двоичное тело, а не текст"
    ),
    "a view of a larger batch: its own rows, as float32": (
        "срез большего батча: только его строки, как float32"
    ),
    "a batch of {} ({}) to the stand-in server": "батч из {=} ({}) на сервер-заменитель",
    "a strided view (not C-contiguous)": "срез с шагом (не C-contiguous)",
}
