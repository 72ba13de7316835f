"""The Russian versions of the messages of ``mllab/exercises/lab00.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Проверка идентичности контейнеров» (M(E1) = M(E2), compared field by field) and "
    "«Проблема зависимости окружений в ML» (A = (f, θ, R, E))": (
        "«Проверка идентичности контейнеров» (M(E1) = M(E2), сравнение поле за полем) и "
        "«Проблема зависимости окружений в ML» (A = (f, θ, R, E))"
    ),
    "«Управление версиями CUDA и драйверов» (v_driver^host ≥ v_cuda^container, "
    "versions compared as numbers)": (
        "«Управление версиями CUDA и драйверов» (v_driver^host ≥ v_cuda^container, "
        "версии сравниваются как числа)"
    ),
    "expected a list of dotted field paths, got {}": (
        "ожидался список путей к полям через точку, получено {=}"
    ),
    "compare the nested fields ('packages.numpy'), not whole sections: {}": (
        "сравнивайте вложенные поля ('packages.numpy'), а не целые разделы: {}"
    ),
    "leave out {}, they differ in any two captures: {}": (
        "исключите {=}: они различаются в любых двух снимках: {}"
    ),
    "missing {}": "не хватает {}",
    "extra {}": "лишние {}",
    "nothing: a version is unknown here (no NVIDIA driver, or no CUDA build)": (
        "ничего: одна из версий здесь неизвестна (нет драйвера NVIDIA или сборки с CUDA)"
    ),
    "a CUDA session should run": "сессия CUDA должна запуститься",
    "a CUDA session should fail": "сессия CUDA должна завершиться ошибкой",
    "a made-up pair": "придуманной паре",
    "host vs container": "паре хост — контейнер",
    "right on {} version pairs": "верно на {=} парах версий",
    "nothing: {} or {} is not a version": "ничего: {=} или {=} — не номер версии",
    "{} fields differ between host and container": (
        "полей, различающихся между хостом и контейнером: {=}"
    ),
    "right on a made-up pair (no container fingerprint to compare here)": (
        "верно на придуманной паре (отпечатка контейнера для сравнения здесь нет)"
    ),
    "CUDA_container ≤ Driver_host": "CUDA_container ≤ Driver_host",
}
