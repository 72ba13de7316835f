"""The Russian versions of the messages of ``mllab/exercises/lab04.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Слои образа и кэширование» (a changed layer rebuilds every layer after it) and "
    "«Модель как часть образа» (COPY model.onnx: the model is a layer)": (
        "«Слои образа и кэширование» (изменённый слой пересобирает все слои после него) и "
        "«Модель как часть образа» (COPY model.onnx: модель — это слой)"
    ),
    "«Инженерные соображения при создании Dockerfile» (Безопасность: not as root), "
    "«CMD и ENTRYPOINT: интерфейс инференса» (exec form)": (
        "«Инженерные соображения при создании Dockerfile» (Безопасность: не от root), "
        "«CMD и ENTRYPOINT: интерфейс инференса» (exec-форма)"
    ),
    "CMD in shell form: sh becomes PID 1 and docker stop's SIGTERM misses the server": (
        "CMD в shell-форме: PID 1 становится sh, и SIGTERM от docker stop не доходит до сервера"
    ),
    'CMD must start the server: ["python", "-m", "mllab.serve.app"]': (
        'CMD должен запускать сервер: ["python", "-m", "mllab.serve.app"]'
    ),
    "CMD {}: a shell is PID 1, docker stop's SIGTERM misses the server": (
        "CMD {=}: PID 1 — оболочка, SIGTERM от docker stop не доходит до сервера"
    ),
    "ENTRYPOINT in shell form: sh becomes PID 1 (and CMD is ignored)": (
        "ENTRYPOINT в shell-форме: PID 1 становится sh (а CMD игнорируется)"
    ),
    "EXPOSE {}: the server listens on {}": "EXPOSE {=}: сервер слушает {=}",
    "FROM comes first and CMD last": "FROM идёт первым, а CMD последним",
    "STOPSIGNAL {}: the server drains on SIGTERM, docker stop's default": (
        "STOPSIGNAL {=}: сервер завершает запросы по SIGTERM — сигналу docker stop по умолчанию"
    ),
    "USER comes first (everything after runs unprivileged) and CMD last": (
        "USER идёт первым (всё после него выполняется без привилегий), а CMD последним"
    ),
    "USER {} is root": "USER {=} — это root",
    "USER {} is root: use the unprivileged uid 10001": (
        "USER {=} — это root: используйте непривилегированный uid 10001"
    ),
    "USER {}: no such user in the slim image (the runtime stage creates {}, uid 10001): use "
    "the uid, or that name": (
        "USER {=}: такого пользователя в slim-образе нет (стадия времени выполнения создаёт "
        "{=}, uid 10001): используйте этот uid или это имя"
    ),
    "a new model or new code reuses the pip install layer": (
        "новая модель или новый код переиспользуют слой pip install"
    ),
    "a new {} reruns pip install: copy it after the RUN pip install": (
        "новый {=} перезапускает pip install: копируйте его после RUN pip install"
    ),
    "code changes": "меняется код",
    "model changes": "меняется модель",
    "when {} changes": "когда меняется {=}",
    "expected a list of the instruction strings, reordered": (
        "ожидался список строк-инструкций в новом порядке"
    ),
    "expected the Dockerfile text as a string": "ожидался текст Dockerfile одной строкой",
    "no CMD: the image does not start the server": "нет CMD: образ не запускает сервер",
    "no EXPOSE: say which port the server listens on (8080)": (
        "нет EXPOSE: укажите, какой порт слушает сервер (8080)"
    ),
    "no HEALTHCHECK: Docker cannot tell a ready server from a hung one": (
        "нет HEALTHCHECK: Docker не может отличить готовый сервер от зависшего"
    ),
    "no HEALTHCHECK: Docker cannot tell a ready server from a hung one (probe /ready)": (
        "нет HEALTHCHECK: Docker не может отличить готовый сервер от зависшего (опрашивайте /ready)"
    ),
    "no USER: the server would run as root": "нет USER: сервер работал бы от root",
    "non-root USER, EXPOSE, HEALTHCHECK, exec-form CMD": (
        "USER не root, EXPOSE, HEALTHCHECK, CMD в exec-форме"
    ),
    "pip install needs {}: COPY it before the RUN": (
        "pip install нужен {=}: копируйте его (COPY) до RUN"
    ),
    "the COPYs go to '.', the WORKDIR: set WORKDIR before them": (
        "COPY копируют в '.', то есть в WORKDIR: задайте WORKDIR до них"
    ),
    "the HEALTHCHECK calls {}, which the slim image does not have": (
        "HEALTHCHECK вызывает {=}, которого в slim-образе нет"
    ),
    "the HEALTHCHECK must ask the server itself (/ready), not just that a process runs": (
        "HEALTHCHECK должен спрашивать сам сервер (/ready), а не только то, что процесс запущен"
    ),
    "the HEALTHCHECK probes another port than the server's {}": (
        "HEALTHCHECK опрашивает не тот порт, что у сервера ({=})"
    ),
    "use each given instruction exactly once, unchanged (only the order changes)": (
        "используйте каждую данную инструкцию ровно один раз и без изменений (меняется только "
        "порядок)"
    ),
    # the hidden cases (grade feedback)
    "the lecture's steps handed in other orders": "шаги из лекции, сданные в другом порядке",
    "the steps in the order {}": "шаги в порядке {=}",
    "the same Dockerfile written otherwise (another base, folder, flags, port)": (
        "тот же Dockerfile, написанный иначе (другие база, папка, флаги, порт)"
    ),
    "another writing of it ({})": "другая его запись ({=})",
    " (the text; the built image is not measured here)": (
        " (по тексту; собранный образ здесь не измеряется)"
    ),
    "an unprivileged user that exists in the slim image": (
        "непривилегированный пользователь, который есть в slim-образе"
    ),
    "EXPOSE the port the server listens on ({})": "EXPOSE порта, который слушает сервер ({=})",
    "a HEALTHCHECK the slim image can run, asking the server (/ready)": (
        "HEALTHCHECK, который slim-образ может выполнить, опрашивающий сервер (/ready)"
    ),
    "docker stop's SIGTERM reaches the server (exec-form CMD, no shell)": (
        "SIGTERM от docker stop доходит до сервера (CMD в exec-форме, без оболочки)"
    ),
    "your interface part": "ваша часть интерфейса",
}
