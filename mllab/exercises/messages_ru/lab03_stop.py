"""The Russian versions of the messages of ``mllab/exercises/lab03_stop.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    # Dockerfile text and a command the exercise builds: shown as they are
    "FROM {}\nCMD {}\n": "FROM {}\nCMD {}\n",
    "exec python -m mllab.serve.app  # {}": "exec python -m mllab.serve.app  # {}",
    "«CMD и ENTRYPOINT: интерфейс инференса» (the exec form runs the program itself as PID 1; "
    "the shell form runs /bin/sh -c, which does not pass docker stop's SIGTERM on)": (
        "«CMD и ENTRYPOINT: интерфейс инференса» (exec-форма запускает саму программу как "
        "PID 1; shell-форма запускает /bin/sh -c, который не передаёт SIGTERM от docker stop "
        "дальше)"
    ),
    "docker stop waited its whole {} s for the SIGKILL (exit {}): PID 1 was `{}`, which did "
    "not pass the SIGTERM on": (
        "docker stop ждал SIGKILL все {=} с (код выхода {=}): PID 1 был `{=}`, и он не передал "
        "SIGTERM дальше"
    ),
    "expected the text of a Dockerfile (FROM …), got {}": (
        "ожидался текст Dockerfile (FROM …), получено {=}"
    ),
    "the container stopped (exit {}) but the server never got the SIGTERM: PID 1 was `{}`": (
        "контейнер остановился (код выхода {=}), но сервер так и не получил SIGTERM: PID 1 был "
        "`{=}`"
    ),
    "the image did not run the server: {}": "образ не запустил сервер: {}",
    "the server got docker stop's SIGTERM and stopped before the timeout": (
        "сервер получил SIGTERM от docker stop и остановился до таймаута"
    ),
    # the hidden cases (grade feedback)
    "the program is PID 1 and gets the SIGTERM": "программа — это PID 1, и она получает SIGTERM",
    "a program that execs the server keeps the signal path": (
        "программа, которая запускает сервер через exec, сохраняет путь сигнала"
    ),
    "arguments with spaces and quotes stay one argument each": (
        "аргументы с пробелами и кавычками остаются каждый одним аргументом"
    ),
    "argv {}": "команда (argv) {=}",
}
