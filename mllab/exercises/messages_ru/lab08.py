"""The Russian versions of the messages of ``mllab/exercises/lab08.py`` (keys: the English
templates as that module writes them; see :mod:`mllab.exercises.messages_ru`)."""

RU: dict[str, str] = {
    "«Immutable builds» (the old image stays in the registry, so the previous state can come "
    "back) and «Практика версионирования в CI/CD» (Deploy: the stage that puts a version into "
    "service)": (
        "«Immutable builds» (старый образ остаётся в реестре, поэтому прежнее состояние можно "
        "вернуть) и «Практика версионирования в CI/CD» (Deploy: стадия, которая вводит версию в "
        "эксплуатацию)"
    ),
    "«Теги и версии образов», «Immutable builds» (a new build gets a new tag; an old one stays "
    "in the registry) and «Практика версионирования в CI/CD» (tags like 1.0.3-build.472)": (
        "«Теги и версии образов», «Immutable builds» (новая сборка получает новый тег; старая "
        "остаётся в реестре) и «Практика версионирования в CI/CD» (теги вида 1.0.3-build.472)"
    ),
    " (numbers, not strings: build.10 comes after build.9)": (
        " (числа, а не строки: build.10 идёт после build.9)"
    ),
    "expected None (refused), got {}: a tag that exists is never pushed again, and a release "
    "is MAJOR.MINOR.PATCH": (
        "ожидалось None (отказ), получено {=}: существующий тег никогда не отправляется снова, "
        "а релиз имеет вид MAJOR.MINOR.PATCH"
    ),
    "expected {}, got None: not pushed yet (build.10 comes after build.9)": (
        "ожидалось {=}, получено None: ещё не отправлен (build.10 идёт после build.9)"
    ),
    "expected {}, got {}{}": "ожидалось {=}, получено {=}{}",
    "failed = {}, but the rows' failures add up to {}": (
        "failed = {=}, но ошибки в строках в сумме дают {=}"
    ),
    "made-up update {}": "придуманном обновлении {=}",
    "on the registry's tags: {}-build.{} again → {}, the next build → {}, the next release → {}": (
        "на тегах реестра: снова {=}-build.{=} → {=}, следующая сборка → {=}, следующий релиз → {=}"
    ),
    "outcome {}, expected {}: read the last second in which any version answered (a version "
    "with 0 answers did not answer)": (
        "исход {=}, ожидался {=}: читайте последнюю секунду, в которую отвечала хоть какая-то "
        "версия (версия с 0 ответов не отвечала)"
    ),
    "outcome {}, expected {}: read the last second in which any version answered (rows "
    "without answers at the end say nothing)": (
        "исход {=}, ожидался {=}: читайте последнюю секунду, в которую отвечала хоть какая-то "
        "версия (строки без ответов в конце ничего не говорят)"
    ),
    "return (failed, outcome), not {}": "верните (failed, outcome), а не {=}",
    "right on {} made-up updates": "верно на {=} придуманных обновлениях",
    "the measured update to {}": "измеренном обновлении до {=}",
    "the outcome is one of {}, not {}": "исход — один из {=}, а не {=}",
    "to {}: {}, {} failed": "до {=}: {=}, неудачных {=}",
    # the hidden cases (grade feedback)
    "an update from {} to {} over {} s that ended {}": (
        "обновление с {=} на {=} за {=} с, закончившееся {=}"
    ),
    "the failed requests of every second added up": "неудачные запросы всех секунд сложены",
    "updated: only the new build answered in the last second with answers": (
        "updated: в последнюю секунду с ответами отвечала только новая сборка"
    ),
    "rolled back: the new build no longer answered at the end": (
        "rolled back: новая сборка в конце уже не отвечала"
    ),
    "mixed: both builds still answered at the end": "mixed: в конце отвечали обе сборки",
    "build numbers compared as numbers": "номера сборок сравниваются как числа",
    "an existing tag is never reused": "существующий тег никогда не используется снова",
    "a release that is not MAJOR.MINOR.PATCH": "релиз не в виде MAJOR.MINOR.PATCH",
    "other releases' builds do not count": "сборки других релизов не считаются",
    "tags {}, release {}, build {}": "теги {=}, релиз {=}, сборка {=}",
    "the next tag: expected {}, got {}": "следующий тег: ожидалось {=}, получено {=}",
}
