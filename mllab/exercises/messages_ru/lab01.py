"""The Russian versions of the messages of ``mllab/exercises/lab01.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Проблема зависимости окружений в ML» (A = (f, θ, R, E): f and θ travel as one file) and "
    "«Параллелизм и batch-инференс» (n is chosen when serving: the batch axis stays free)": (
        "«Проблема зависимости окружений в ML» (A = (f, θ, R, E): f и θ путешествуют одним "
        "файлом) и «Параллелизм и batch-инференс» (n выбирается при обслуживании: ось батча "
        "остаётся свободной)"
    ),
    "«Проверка воспроизводимости контейнера» (Δ = ‖f_host1(x) − f_host2(x)‖₂ ≤ 1e-3, "
    "for one input x)": (
        "«Проверка воспроизводимости контейнера» (Δ = ‖f_host1(x) − f_host2(x)‖₂ ≤ 1e-3 "
        "для одного входа x)"
    ),
    "ONNX Runtime cannot run it at batch {}: {}": (
        "ONNX Runtime не может выполнить его на батче {=}: {=}"
    ),
    "at batch {} the logits have shape {}, not {}": ("на батче {=} у логитов форма {=}, а не {=}"),
    "at batch {}, Δ against torch is {} > {}": "на батче {=} Δ относительно torch равна {=} > {=}",
    "expected one number, got an array of shape {}": (
        "ожидалось одно число, получен массив формы {=}"
    ),
    "got {}, expected {}": "получено {=}, ожидалось {=}",
    "got {}, expected {}: {}": "получено {=}, ожидалось {=}: {}",
    "inputs, outputs {}: the server feeds 'input' and reads 'logits'": (
        "входы, выходы {=}: сервер подаёт 'input' и читает 'logits'"
    ),
    "known arrays #{}": "известных массивах №{=}",
    "no file at the path given ({}): export to `path`": (
        "по данному пути ({=}) нет файла: экспортируйте в `path`"
    ),
    "no file at {}: did the export write to the path it was given?": (
        "нет файла по пути {=}: записал ли экспорт в тот путь, который ему дали?"
    ),
    "one file, runs at batch {}, Δ to torch ≤ {}": (
        "один файл, выполняется на батчах {=}, Δ до torch ≤ {=}"
    ),
    "that is a squared norm: take the square root": (
        "это квадрат нормы: извлеките квадратный корень"
    ),
    "that is max |a − b|, one element; Δ is an L2 norm over a sample's outputs": (
        "это max |a − b|, один элемент; Δ — норма L2 по выходам одного образца"
    ),
    "that is ‖a − b‖₂ of the whole batch; Δ is per input x (row): the worst": (
        "это ‖a − b‖₂ всего батча; Δ считается для каждого входа x (строки): худшая"
    ),
    "the batch axis is fixed: give it a name (dynamic_shapes / dynamic_axes)": (
        "ось батча зафиксирована: дайте ей имя (dynamic_shapes / dynamic_axes)"
    ),
    "the function returned None (a missing return?)": "функция вернула None (пропущен return?)",
    "the real outputs": "настоящих выходах",
    "the weights are not inside the file ({}): export with external_data=False": (
        "веса не внутри файла ({=}): экспортируйте с external_data=False"
    ),
    "the weights are not inside the one file ({})": "веса не внутри единого файла ({=})",
    "Δ of the real outputs = {}": "Δ настоящих выходов = {=}",
    # the hidden cases (grade feedback)
    "expected one number, got {}": "ожидалось одно число, получено {=}",
    ": that is {}": ": это {}",
    "the whole batch's norm; Δ is per input x: the worst row": (
        "норма всего батча; Δ считается для каждого входа x: худшая строка"
    ),
    "max |a − b|, one element; Δ is an L2 norm over a sample's outputs": (
        "max |a − b|, один элемент; Δ — это L2-норма по выходам одного примера"
    ),
    "a squared norm: take the square root": "квадрат нормы: извлеките корень",
    "{} of shape {}": "{} формы {=}",
    "one output vector f(x)": "один выходной вектор f(x)",
    "a batch": "батч",
    "float32 logits equal in all rows but one": (
        "логиты float32, равные во всех строках, кроме одной"
    ),
    "identical outputs": "одинаковые выходы",
    "one input x: Δ = ‖f1(x) − f2(x)‖₂": "один вход x: Δ = ‖f1(x) − f2(x)‖₂",
    "a batch: the worst sample's Δ (not the batch's norm, not one element)": (
        "батч: Δ худшего примера (не норма батча и не один элемент)"
    ),
    "outputs that agree: Δ = 0 when equal, one row's drift when only it moved": (
        "совпадающие выходы: Δ = 0 при равенстве, дрейф одной строки, когда сдвинулась только она"
    ),
    "a small {}-class network (not the lab's ResNet-50), {}": (
        "небольшая сеть (классов: {=}; не ResNet-50 из лабораторной работы), {}"
    ),
    "at batch {}": "на батче {=}",
    "at batches {}": "на батчах {=}",
    "the model given is the one exported (Δ to torch ≤ 1e-3)": (
        "экспортируется переданная модель (Δ относительно torch ≤ 1e-3)"
    ),
    "the batch axis stays free: batches the export never saw": (
        "ось батча остаётся свободной: батчи, которых экспорт не видел"
    ),
    "one self-contained file with the input and output the server uses": (
        "один самодостаточный файл с входом и выходом, которые использует сервер"
    ),
    "its weights inside the one file, input 'input', output 'logits'": (
        "его веса внутри одного файла, вход 'input', выход 'logits'"
    ),
}
