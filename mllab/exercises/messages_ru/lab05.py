"""The Russian versions of the messages of ``mllab/exercises/lab05.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Параллелизм и batch-инференс» (T(n) = n/(a + bn): a the fixed cost of a call, b the cost "
    "per item; n* maximises T(n) under the latency bound L(n))": (
        "«Параллелизм и batch-инференс» (T(n) = n/(a + bn): a — фиксированные накладные расходы "
        "вызова, b — время обработки одного элемента; n* максимизирует T(n) при допустимом L(n))"
    ),
    " (fit the latency of one call, L(n) = n/T(n) = a + b·n, a straight line in n)": (
        " (аппроксимируйте latency одного вызова, L(n) = n/T(n) = a + b·n — прямая по n)"
    ),
    "sweep {}, a = {}, b = {}, bound {} ms": "прогон {=}, a = {=}, b = {=}, граница {=} мс",
    " (a and b swapped: L(n) = a + b·n, a is the intercept)": (
        " (a и b перепутаны: L(n) = a + b·n, a — свободный член)"
    ),
    " (in seconds: the lecture's a and b are in ms here, L = 1000·n/T)": (
        " (в секундах: здесь a и b из лекции — в мс, L = 1000·n/T)"
    ),
    "no batch meets the bound, so n* is None, not {}": (
        "ни один батч не укладывается в границу, поэтому n* — None, а не {=}"
    ),
    "n* = {}, not {}": "n* = {=}, а не {=}",
    "n* of({})": "n* для ({})",
    "return two numbers (a_ms, b_ms), not {}": "верните два числа (a_ms, b_ms), а не {=}",
    "on an exact sweep made with a = {} ms, b = {} ms your function gives a = {}, b = {}{}": (
        "на точном прогоне, построенном с a = {=} мс, b = {=} мс, ваша функция даёт "
        "a = {=}, b = {=}{}"
    ),
    "on the measured sweep a = {} ms, b = {} ms; the kit's least squares on L(n) gives "
    "a = {} ms, b = {} ms": (
        "на измеренном прогоне a = {=} мс, b = {=} мс; метод наименьших квадратов mllab по L(n) "
        "даёт a = {=} мс, b = {=} мс"
    ),
    "n* = {} on the measured sweep (bound {} ms), and right on {} made-up sweeps": (
        "n* = {=} на измеренном прогоне (граница {=} мс), и верно на {=} придуманных прогонах"
    ),
    "a = {} ms, b = {} ms per item, as the kit's fit within {}": (
        "a = {=} мс, b = {=} мс на элемент, как в аппроксимации mllab с точностью до {=}"
    ),
}
