"""The Russian versions of the messages of ``mllab/exercises/lab03.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

#: values the student returns or reads as they are (docker run options, names)
_AS_IS = (
    "--cgroupns=host",
    "--ipc=host",
    "--network=host",
    "--pid=host",
    "--userns=host",
    "--uts=host",
    "shared mnt",
    "user-defined",
)

RU: dict[str, str] = {
    **{value: value for value in _AS_IS},
    "«Пространства имён (Namespaces)» (E_container = {}: two processes share a namespace "
    "exactly when its inode numbers are equal)": (
        "«Пространства имён (Namespaces)» (E_container = {=}: два процесса делят пространство "
        "имён ровно тогда, когда равны номера его inode)"
    ),
    "«Сеть и взаимодействие контейнеров» (bridge, host: „максимальная производительность, но "
    "без изоляции“, custom networks) and «Математическая модель контейнерной изоляции»": (
        "«Сеть и взаимодействие контейнеров» (bridge, host: „максимальная производительность, "
        "но без изоляции“, custom networks) и «Математическая модель контейнерной изоляции»"
    ),
    ", not listed: {}": ", нет в перечне: {=}",
    "a made-up pair": "придуманной паре",  # as lab 00 says it ("на придуманной паре")
    "a made-up table, budget 115 ms": "придуманной таблице, бюджет 115 мс",
    "expected (network, pinned), got {}": "ожидалось (network, pinned), получено {=}",
    "expected a set of docker run options, got {}: {}": (
        "ожидалось множество опций docker run, получено {=}: {=}"
    ),
    "expected {}, got {}": "ожидалось {=}, получено {=}",
    "name the docker run options ('--pid=host'), not the namespaces ('pid')": (
        "назовите опции docker run ('--pid=host'), а не пространства имён ('pid')"
    ),
    "no setting meets the budget: expected None, got {}": (
        "бюджет не выдерживает ни одна настройка: ожидалось None, получено {=}"
    ),
    "right on {} namespace listings ({} measured here)": (
        "верно на {=} перечнях пространств имён ({=} измерены здесь)"
    ),
    "right on {} tables": "верно на {=} таблицах",
    "the container run {}": "контейнере, запущенном с {=}",
    "the options: ": "опции: ",
    "this run's settings, budget {} ms": "настройках этого запуска, бюджет {=} мс",
    "{} settings, budget {} ms": "{=} настроек, бюджет {=} мс",
    # the hidden cases (grade feedback)
    "one isolation given back at a time": "одна изоляция, отданная за раз",
    "several at once, or none": "несколько сразу или ни одной",
    "a shared mnt, and namespaces one listing lacks": (
        "общий mnt и namespaces, которых нет в одном из списков"
    ),
    "the least isolation given up within the budget": (
        "наименьший отказ от изоляции в пределах бюджета"
    ),
    "the spread counts against the budget": "разброс засчитывается против бюджета",
    "no setting meets the budget": "ни одна настройка не укладывается в бюджет",
    "shared: {}": "общие с хостом: {}",
}
