"""The Russian versions of the messages of ``mllab/exercises/lab06.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Воспроизводимость численных результатов» (what is fixed and what is switched off before "
    "inference, so that results agree across machines to ε = 1e-6)": (
        "«Воспроизводимость численных результатов» (что фиксируется и что выключается перед "
        "инференсом, чтобы результаты совпадали на разных машинах до ε = 1e-6)"
    ),
    "«Понятие *reproducible build*» and «Проверка детерминированности сборки» "
    "(Build(S, D, C) = Build(S, D, C) ⇒ H(D₁) = H(D₂): equal image IDs)": (
        "«Понятие *reproducible build*» и «Проверка детерминированности сборки» "
        "(Build(S, D, C) = Build(S, D, C) ⇒ H(D₁) = H(D₂): одинаковые ID образов)"
    ),
    " (no effect: {})": " (не действует: {=})",
    "; changes nothing here, not credited: {}": "; здесь ничего не меняют, не засчитаны: {=}",
    "a two-stage": "двухстадийном",
    "the slim": "slim-образа",
    "on the slim Dockerfile: {}": "на slim-Dockerfile: {}",
    "on a two-stage Dockerfile: {}": "на двухстадийном Dockerfile: {}",
    "on {} Dockerfile: {}": "на {} Dockerfile: {}",
    "every stage declares SOURCE_DATE_EPOCH, one fixed time {} for files and RUN steps": (
        "каждая стадия объявляет SOURCE_DATE_EPOCH, одно фиксированное время {=} для файлов и "
        "шагов RUN"
    ),
    "leave the rest as it was: line {} differs from the original": (
        "остальное оставьте как было: строка {=} отличается от исходной"
    ),
    "max|Δ| {} ≤ ε = {} (the defaults: {}); credited: {}{}": (
        "max|Δ| {=} ≤ ε = {=} (по умолчанию: {=}); засчитаны: {=}{}"
    ),
    "one fixed time for both, not timestamp {} and source_date_epoch {}": (
        "одно фиксированное время для обоих, а не timestamp {=} и source_date_epoch {=}"
    ),
    "return (dockerfile, settings), not {}": "верните (dockerfile, settings), а не {=}",
    "return an onnxruntime.SessionOptions, not {}": (
        "верните onnxruntime.SessionOptions, а не {=}"
    ),
    "return the Dockerfile as text, not {}": "верните Dockerfile текстом, а не {=}",
    "settings: a dict {}, not {}": "settings: словарь {=}, а не {=}",
    "source_date_epoch: a fixed time for the RUN steps (useradd writes today's date)": (
        "source_date_epoch: фиксированное время для шагов RUN (useradd пишет сегодняшнюю дату)"
    ),
    "stage {} does not declare ARG SOURCE_DATE_EPOCH after its FROM: an ARG reaches only the "
    "RUN steps of the stage that declares it": (
        "стадия {=} не объявляет ARG SOURCE_DATE_EPOCH после своего FROM: ARG доходит только до "
        "шагов RUN той стадии, которая его объявляет"
    ),
    "this model does not tell options apart (the defaults are the graph as written){}": (
        "эта модель не различает опции (опции по умолчанию дают граф в том виде, как он записан){}"
    ),
    "timestamp: a fixed time (seconds since 1970) for the config and every file's mtime": (
        "timestamp: фиксированное время (секунды с 1970 года) для конфигурации и mtime каждого "
        "файла"
    ),
    "with your options the outputs are still {} from the graph as the file writes it (> ε = "
    "{}; the defaults: {}): which optimisation still rewrites the graph?": (
        "с вашими опциями выходы всё ещё отстоят на {=} от графа в том виде, как его записывает "
        "файл (> ε = {=}; по умолчанию: {=}): какая оптимизация всё ещё переписывает граф?"
    ),
    "with your options two runs or 1 vs {} threads differ by max|Δ| = {} > ε = {}": (
        "с вашими опциями два запуска или 1 и {=} потоков различаются на max|Δ| = {=} > ε = {=}"
    ),
    "your options change nothing here: the outputs are bitwise the defaults', {} from the "
    "graph as the file writes it (ε = {}): what does the lecture switch off?{}": (
        "ваши опции здесь ничего не меняют: выходы побитово совпадают с выходами по умолчанию, "
        "{=} от графа в том виде, как его записывает файл (ε = {=}): что выключает лекция?{}"
    ),
    "{} (Δ to the defaults {})": "{=} (Δ до опций по умолчанию {=})",
}
