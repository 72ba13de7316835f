"""The Russian versions of the messages of ``mllab/exercises/lab02.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Практический пример инференса» (the service's POST /predict and latency_ms; a binary "
    "body carries float32 as it is, where the JSON list turns every number into text)": (
        "«Практический пример инференса» (POST /predict сервиса и latency_ms; бинарное тело "
        "несёт float32 как есть, тогда как JSON-список превращает каждое число в текст)"
    ),
    "«Python-скрипт» and «Dockerfile» of the Flask service (what keeps ``python server.py`` "
    "running, and which address ``docker run -p 8080:8080`` forwards to)": (
        "«Python-скрипт» и «Dockerfile» Flask-сервиса (что не даёт ``python server.py`` "
        "завершиться и на какой адрес перенаправляет ``docker run -p 8080:8080``)"
    ),
    "every call of yours ({}) was slower than every call of the kit's JSON client ({}): what "
    "does your function do besides send?": (
        "каждый ваш вызов ({=}) был медленнее каждого вызова JSON-клиента mllab ({=}): что ваша "
        "функция делает, кроме отправки?"
    ),
    "expected float logits, got dtype {}": "ожидались логиты с плавающей точкой, получен dtype {=}",
    "expected logits of shape {}, got {}": "ожидались логиты формы {=}, получено {=}",
    "expected the logits as a numpy array, got {}: {}": (
        "ожидались логиты в виде массива numpy, получено {=}: {=}"
    ),
    "it serves here, but only on the loopback address: in a container, docker run -p forwards "
    "to the container's network interface, not to its 127.0.0.1 — which host must the app "
    "listen on?": (
        "здесь он обслуживает, но только на адресе loopback: в контейнере docker run -p "
        "перенаправляет на сетевой интерфейс контейнера, а не на его 127.0.0.1 — какой host "
        "должно слушать приложение?"
    ),
    "max |your logits − the kit's| = {} > {}: was the batch sent as float32, in C order, with "
    "its shape?": (
        "max |ваши логиты − логиты mllab| = {=} > {=}: был ли батч отправлен как float32, в "
        "порядке C, со своей формой?"
    ),
    "no content type": "без типа содержимого",
    "no output": "без вывода",
    "nothing listened on port {}: is the port the one passed in?": (
        "порт {=} никто не слушал: тот ли это порт, что был передан?"
    ),
    "nothing was POSTed to the url given: send the batch to that server": (
        "на данный url ничего не отправлено через POST: отправьте батч этому серверу"
    ),
    "python server.py ended (exit code 0) before anything listened: the app is defined, but "
    "what starts it when the file is run as a script?": (
        "python server.py завершился (код выхода 0) раньше, чем что-либо начало слушать порт: "
        "приложение определено, но что запускает его, когда файл выполняется как скрипт?"
    ),
    "python server.py failed with exit code {}: {}": (
        "python server.py завершился ошибкой с кодом выхода {=}: {=}"
    ),
    "python server.py serves: POST /predict -> {} on {}": (
        "python server.py обслуживает запросы: POST /predict -> {=} на {=}"
    ),
    "return the lines as one string, not {}": "верните строки одной строкой, а не {=}",
    "something listens on port {}, but POST /predict answered {}": (
        "порт {=} кто-то слушает, но POST /predict ответил {=}"
    ),
    "the body went as {}: {} MB on the wire for {} MB of float32 (×{}) — numbers as text; "
    "send the tensor's own bytes": (
        "тело ушло как {}: {=} МБ по сети на {=} МБ float32 (×{=}) — числа текстом; отправляйте "
        "собственные байты тензора"
    ),
    "{} MB on the wire for {} MB of float32 (×{}): more than the tensor's bytes and a header": (
        "{=} МБ по сети на {=} МБ float32 (×{=}): больше, чем байты тензора и заголовок"
    ),
    "{} bytes on the wire for a float32 tensor of {}: was the batch cast to a smaller type, "
    "or cut?": (
        "{=} байт по сети для тензора float32 из {=}: не приведён ли батч к меньшему типу и не "
        "обрезан ли он?"
    ),
    "{}, ×{} the float32 bytes; median {} vs {} for the JSON body; logits within {}": (
        "{=}, ×{=} от байтов float32; медиана {=} против {=} у JSON-тела; логиты в пределах {=}"
    ),
}
