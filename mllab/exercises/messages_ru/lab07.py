"""The Russian versions of the messages of ``mllab/exercises/lab07.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Влияние ограничений ресурсов на производительность» (L(c) ∼ 1/min(c, c_opt): c the cores "
    "granted, c_opt the threads that can use them) and «Управление ресурсами CPU/GPU внутри "
    "контейнера» (--cpus is a cgroup quota)": (
        "«Влияние ограничений ресурсов на производительность» (L(c) ∼ 1/min(c, c_opt): c — "
        "выделенные ядра, c_opt — потоки, которые могут их использовать) и «Управление "
        "ресурсами CPU/GPU внутри контейнера» (--cpus — это квота cgroup)"
    ),
    " (scan c_opt between the smallest and the largest c; for each, the best scale is "
    "Σ g·L / Σ g², g = 1/min(c, c_opt))": (
        " (перебирайте c_opt между наименьшим и наибольшим c; для каждого лучший scale равен "
        "Σ g·L / Σ g², g = 1/min(c, c_opt))"
    ),
    "--cpus = {}: a larger quota is faster beyond the spread of the calls ({}: {}; {}: {})": (
        "--cpus = {=}: бо́льшая квота быстрее сверх разброса вызовов ({=}: {=}; {=}: {=})"
    ),
    "--cpus = {}: a lower median alone is noise — {} CPUs are as fast within the spread of the "
    "calls ({})": (
        "--cpus = {=}: одна лишь меньшая медиана — это шум: {=} CPU так же быстры в пределах "
        "разброса вызовов ({=})"
    ),
    "--cpus={} and {} threads for the measured calls": (
        "--cpus={=} и {=} потоков для измеренных вызовов"
    ),
    "c_opt = {}, scale = {} ms on the measured sweep, as the kit's": (
        "c_opt = {=}, scale = {=} мс на измеренном прогоне, как у mllab"
    ),
    "limits need at least two measured quotas, not {}": (
        "для ограничений нужны хотя бы две измеренные квоты, а не {=}"
    ),
    "made-up calls {}": "придуманных вызовах {=}",
    "on an exact sweep made with c_opt = {}, scale = {} ms your function gives c_opt = {}, "
    "scale = {} ms{}": (
        "на точном прогоне, построенном с c_opt = {=}, scale = {=} мс, ваша функция даёт "
        "c_opt = {=}, scale = {=} мс{}"
    ),
    "on the measured sweep your L(c) is up to {} off the kit's (c_opt = {}, scale = {} ms)": (
        "на измеренном прогоне ваша L(c) отличается от L(c) mllab до {=} (c_opt = {=}, "
        "scale = {=} мс)"
    ),
    "return (cpus, threads), not {}": "верните (cpus, threads), а не {=}",
    "return two numbers (c_opt, scale_ms), not {}": "верните два числа (c_opt, scale_ms), а не {=}",
    "right on the exact sweep (the measured one could not be fitted: {})": (
        "верно на точном прогоне (измеренный не удалось аппроксимировать: {=})"
    ),
    "right on {} made-up measurements (none measured here)": (
        "верно на {=} придуманных измерениях (здесь ничего не измерено)"
    ),
    "the measured calls": "измеренных вызовах",
    "threads = {} with --cpus = {}: how many threads can a quota of {} CPUs run at once? "
    "(os.cpu_count() in a container is the host's)": (
        "threads = {=} при --cpus = {=}: сколько потоков квота в {=} CPU может выполнять "
        "одновременно? (os.cpu_count() в контейнере — это число ядер хоста)"
    ),
}
