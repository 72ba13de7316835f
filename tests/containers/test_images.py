"""The server's Docker images: Dockerfiles lint clean, locks pin and hash every wheel, the build
stream is read right, and (with an engine) the slim image serves what the host computes."""

from __future__ import annotations

import re
import shutil
import tomllib

import pytest
from packaging.utils import canonicalize_name
from tiny_models import flip_bit

from mllab.containers.base import base_image
from mllab.containers.build import build, build_cuda, build_slim, remove_image
from mllab.containers.buildlog import parse_build_stream
from mllab.containers.context import build_args, stage_context
from mllab.containers.docker_cli import ContainerFailed
from mllab.containers.dockerfiles import hadolint, instructions
from mllab.containers.kinds import kind
from mllab.containers.layers import inspect, instruction_of
from mllab.containers.locks import Pin, format_lock, parse_lock, wheel_name_version
from mllab.containers.run import run
from mllab.containers.wheelhouse import locked_wheels, platform_args
from mllab.core.errors import BuildError, InputError
from mllab.core.hashing import sha256_file
from mllab.core.paths import DOCKER, ROOT

DOCKERFILES = ["Dockerfile", "Dockerfile.naive", "Dockerfile.cuda"]
LOCKS = {
    "requirements.lock": "requirements-serve.in",
    "requirements-cuda.lock": "requirements-cuda.in",
}


# --- Dockerfiles ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_passes_hadolint_without_any_finding(name):
    assert hadolint(DOCKER / name) == []


def test_hadolint_wrapper_reports_findings(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN pip install flask\nRUN cd /src && make\n")
    codes = {line.split()[2] for line in hadolint(bad)}
    assert {"DL3006", "DL3013", "DL3042", "DL3003"} <= codes


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_slim_dockerfiles_follow_the_lecture(name):
    text = "\n".join(instructions(DOCKER / name))
    assert text.startswith("ARG BASE_IMAGE=python:3.11-slim-bookworm")
    assert text.count("FROM ${BASE_IMAGE}") == 2  # multi-stage
    assert "PIP_NO_INDEX=1" in text or "--no-index" in text  # the wheelhouse only
    assert "--require-hashes" in text
    assert re.search(r"^USER (?!0\b|root\b)\S+", text, re.M)
    assert re.search(r'^CMD \["python", "-m", "mllab.serve.app"\]$', text, re.M)  # exec form
    assert "HEALTHCHECK" in text and "EXPOSE 8080" in text
    assert "MODEL_PATH=/app/model.onnx" in text and "org.mllab.model.sha256" in text
    # the model is the last thing copied: a new model changes only the last layers
    copies = [line for line in text.splitlines() if line.startswith("COPY")]
    assert copies[-1].startswith("COPY model.onnx")


def test_cuda_dockerfile_sets_the_nvidia_environment():
    text = "\n".join(instructions(DOCKER / "Dockerfile.cuda"))
    for needed in ("NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"):
        assert needed in text
    assert "DEVICE=cuda" in text
    raw = (DOCKER / "Dockerfile.cuda").read_text()
    assert "nvidia/cuda:13" in raw and "580" in raw  # the alternative base and its driver


def test_instructions_ignore_comments_and_join_continuations(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text('# hi\nFROM a\nRUN x \\\n    && y\n\n# bye\nCMD ["z"]\n')
    assert instructions(path) == ["FROM a", "RUN x && y", 'CMD ["z"]']


# --- locks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_lock_pins_and_hashes_every_line(lock_name):
    text = (DOCKER / lock_name).read_text()
    pins = parse_lock(DOCKER / lock_name)
    requirement_lines = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert len(pins) == len(requirement_lines) > 5
    for line in requirement_lines:
        assert re.fullmatch(r"[a-z0-9-]+==\S+ \\", line), line
    for pin in pins:
        assert pin.hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in pin.hashes)


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_lock_holds_the_direct_pins(lock_name):
    pins = {p.name: p.version for p in parse_lock(DOCKER / lock_name)}
    for line in (DOCKER / LOCKS[lock_name]).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = re.sub(r"\[.*\]", "", line).split("==")
            assert pins[canonicalize_name(name)] == version, line


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_lock_matches_the_host_pins_of_pyproject(lock_name):
    """The container must run the host's numpy, pillow, ORT...: otherwise Δ measures a
    version change, not the container."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    host = {}
    for requirement in project["dependencies"]:
        name, version = requirement.split(";")[0].strip().split("==")
        host[canonicalize_name(name)] = version
    pins = {p.name: p.version for p in parse_lock(DOCKER / lock_name)}
    shared = set(pins) & set(host)
    assert {"numpy", "pillow", "fastapi", "uvicorn", "python-multipart"} <= shared
    for name in shared:
        assert pins[name] == host[name], name
    runtime = "onnxruntime-gpu" if "cuda" in lock_name else "onnxruntime"
    assert pins[runtime] == host["onnxruntime-gpu"]
    assert "torch" not in pins


def test_cuda_lock_carries_the_cuda_and_cudnn_wheels():
    names = {p.name for p in parse_lock(DOCKER / "requirements-cuda.lock")}
    assert {"nvidia-cuda-runtime", "nvidia-cudnn-cu13", "nvidia-cublas"} <= names
    assert "onnxruntime" not in names  # the CPU build would shadow the GPU one


def test_parse_lock_refuses_unpinned_or_unhashed_lines(tmp_path):
    unhashed = tmp_path / "a.lock"
    unhashed.write_text("numpy==2.4.6\n")
    with pytest.raises(InputError, match="no valid sha256"):
        parse_lock(unhashed)
    unpinned = tmp_path / "b.lock"
    unpinned.write_text(f"numpy>=2 --hash=sha256:{'0' * 64}\n")
    with pytest.raises(InputError, match="not pinned"):
        parse_lock(unpinned)


def test_format_lock_round_trips(tmp_path):
    pins = [Pin("b-pkg", "2.0", ("b" * 64,)), Pin("a", "1.0", ("a" * 64, "c" * 64))]
    path = tmp_path / "x.lock"
    path.write_text(format_lock(pins, "header"))
    assert parse_lock(path) == sorted(pins, key=lambda p: p.name)


def test_platform_args_cover_manylinux_2_28_down_to_2014():
    args = platform_args()
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms[0] == "manylinux_2_28_x86_64" and "manylinux2014_x86_64" in platforms
    assert "manylinux_2_17_x86_64" in platforms and "manylinux_2_29_x86_64" not in platforms
    assert args[args.index("--python-version") + 1].startswith("3.11")


def test_locked_wheels_checks_each_files_sha256(tmp_path):
    good, bad = tmp_path / "a-1.0-py3-none-any.whl", tmp_path / "b-2.0-py3-none-any.whl"
    good.write_bytes(b"good wheel")
    bad.write_bytes(b"tampered wheel")
    lock = tmp_path / "x.lock"
    pins = [Pin("a", "1.0", (sha256_file(good),)), Pin("b", "2.0", ("0" * 64,))]
    lock.write_text(format_lock(pins, "test"))
    found, missing = locked_wheels(lock, tmp_path)
    assert found == [good] and [p.name for p in missing] == ["b"]


def test_lock_names_are_pep503_canonical(tmp_path):
    """Distribution names compare as pip compares them: ``_``, ``.`` and case do not matter."""
    path = tmp_path / "x.lock"
    hashes = f"--hash=sha256:{'a' * 64}"
    path.write_text(f"Pillow_SIMD==9.0 {hashes}\nzope.Interface==7 {hashes}\n")
    assert [p.name for p in parse_lock(path)] == ["pillow-simd", "zope-interface"]


def test_wheel_name_version():
    name = "pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    assert wheel_name_version(name) == ("pydantic-core", "2.50.5")
    with pytest.raises(InputError):
        wheel_name_version("notawheel.tar.gz")


# --- the build stream and the history -----------------------------------------------------------


def _stream(*texts):
    return [{"stream": t} for t in texts]


def test_parse_build_stream_finds_steps_cache_hits_and_the_image():
    chunks = _stream(
        "Step 1/4 : ARG BASE_IMAGE=x\n",
        "Step 2/4 : FROM x\n ---> 22618526aba3\n",
        "Step 3/4 : RUN pip ins",  # a line split across chunks
        "tall -r lock\n ---> Using cache\n ---> 1ff1bddc8942\n",
        "Step 4/4 : COPY model.onnx /app/\n ---> 7648c9103c5a\n",
        "Successfully built 7648c9103c5a\n",
    ) + [{"aux": {"ID": "sha256:7648c9103c5a" + "0" * 52}}]
    lines = []
    result = parse_build_stream(chunks, lines.append, "t:1")
    assert [s.instruction for s in result.steps][2] == "RUN pip install -r lock"
    assert result.cache_hits == ["RUN pip install -r lock"]
    assert result.rebuilt == ["COPY model.onnx /app/"]  # FROM and the global ARG build nothing
    assert result.image_id.startswith("sha256:7648c9103c5a")
    assert result.stage_images == ["7648c9103c5a"]
    assert "Step 4/4 : COPY model.onnx /app/" in lines


def test_parse_build_stream_raises_with_the_failing_steps_log():
    chunks = _stream(
        "Step 1/2 : FROM x\n ---> 22618526aba3\n",
        "Step 2/2 : RUN make\n ---> Running in abc\n",
        "\x1b[91mcc: error: missing.c: No such file\n\x1b[0m",
    ) + [{"errorDetail": {"message": "returned a non-zero code: 1"}, "error": "returned a ..."}]
    with pytest.raises(BuildError) as error:
        parse_build_stream(chunks, None, "t:1")
    message = str(error.value)
    assert "step 2 `RUN make`" in message and "missing.c: No such file" in message
    assert "\x1b" not in message


@pytest.mark.parametrize(
    ("created_by", "expected"),
    [
        ("/bin/sh -c #(nop)  ENV PORT=8080", "ENV PORT=8080"),
        ("|2 A=1 B=2 /bin/sh -c pip install x", "RUN pip install x"),
        (
            f"/bin/sh -c #(nop) COPY dir:{'ab' * 32} in /opt/venv ",
            "COPY dir:abababababab in /opt/venv",
        ),
        ("RUN /bin/sh -c useradd app # buildkit", "RUN useradd app"),
        ('/bin/sh -c #(nop)  CMD ["python" "-m" "x"]', 'CMD ["python" "-m" "x"]'),
    ],
)
def test_instruction_of(created_by, expected):
    assert instruction_of(created_by) == expected


def test_instruction_of_an_imported_base():
    assert instruction_of("", "mllab offline base").startswith("(base)")


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(InputError, match="slim"):
        kind("fat")


# --- with an engine ---------------------------------------------------------------------------


@pytest.fixture
def tiny_context(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("one\n")
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo built > /built.txt\nCOPY a.txt /a.txt\n"
    )
    tag = "mllab-test/images-cache:1"
    yield context, tag
    remove_image(tag)


@pytest.mark.docker
def test_build_reports_cache_hits_and_reruns_only_what_changed(tiny_context):
    context, tag = tiny_context
    args = {"BASE_IMAGE": base_image()}
    first = build(context / "Dockerfile", tag, context, args, nocache=True, on_log=None)
    assert first.cache_hits == [] and first.image_id
    again = build(context / "Dockerfile", tag, context, args, on_log=None)
    assert again.rebuilt == [] and again.image_id == first.image_id
    (context / "a.txt").write_text("two\n")
    changed = build(context / "Dockerfile", tag, context, args, on_log=None)
    assert changed.cache_hits == ["RUN echo built > /built.txt"]
    assert changed.rebuilt == ["COPY a.txt /a.txt"]
    assert inspect(tag).layers[-1].instruction.startswith("COPY file:")


@pytest.mark.docker
def test_a_failing_step_raises_build_error_with_its_log(tiny_context):
    context, tag = tiny_context
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo 'no such wheel: torch' >&2 && exit 3\n"
    )
    with pytest.raises(BuildError, match="no such wheel: torch") as error:
        build(context / "Dockerfile", tag, context, {"BASE_IMAGE": base_image()}, on_log=None)
    assert "RUN echo" in str(error.value)


@pytest.mark.docker
@pytest.mark.slow
def test_a_new_model_rebuilds_only_the_last_layers_of_the_slim_image(tmp_path):
    """Lecture: pip install reruns only when the requirements change (C10), and the image's
    hash depends on the model (C11): a new model reuses every layer before its COPY."""
    context = stage_context("slim", dest=tmp_path / "ctx", on_log=None)
    args = build_args(context)
    tag = "mllab-test/images-model:1"
    try:
        first = build(context / "Dockerfile", tag, context, args, on_log=None)
        (context / "model.onnx").write_bytes(b"not the model, but other bytes")
        sha = sha256_file(context / "model.onnx")
        (context / "model.onnx.sha256").write_text(f"{sha}  model.onnx\n")
        second = build(
            context / "Dockerfile", tag, context, {**args, "MODEL_SHA256": sha}, on_log=None
        )
    finally:
        remove_image(tag)
    assert second.image_id != first.image_id
    assert any(step.startswith("RUN /build/pip/bin/pip") for step in second.cache_hits)
    assert "COPY --from=builder /opt/venv /opt/venv" in second.cache_hits
    assert second.rebuilt[0] == "COPY model.onnx model.onnx.sha256 /app/"


@pytest.fixture(scope="module")
def slim_image():
    return build_slim(on_log=None)


@pytest.fixture(scope="module")
def slim_container(slim_image):
    with run(slim_image, name="mllab-test-slim", read_only=True) as container:
        yield container


@pytest.mark.docker
@pytest.mark.slow
def test_slim_image_predicts_what_the_host_computes(slim_container):
    from mllab.measure.drift import compare
    from mllab.model.artifacts import default_model
    from mllab.model.preprocess import preprocess_batch, sample_images
    from mllab.runtime.sessions import create_session
    from mllab.serve.client import predict_tensor

    x = preprocess_batch(sample_images()[:2])
    answer = predict_tensor(slim_container.url, x)
    session = create_session(default_model())
    host = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert answer["output"].shape == host.shape == (2, 1000)
    assert compare(answer["output"], host).max_abs <= 1e-5
    assert answer["provider"] == "CPUExecutionProvider"
    assert answer["sha256"] == inspect("mllab/serve:slim").labels["org.mllab.model.sha256"]


@pytest.mark.docker
@pytest.mark.slow
def test_slim_container_runs_as_non_root_on_a_read_only_filesystem(slim_image, slim_container):
    info = inspect(slim_image)
    assert info.user.split(":")[0] not in ("", "0", "root")
    code, uid = slim_container.exec(["id", "-u"])
    assert code == 0 and uid.strip() == "10001"
    code, output = slim_container.exec(["sh", "-c", "touch /app/x"])
    assert code != 0 and "Read-only file system" in output
    assert slim_container.wait_ready("healthy", timeout=60) >= 0  # the HEALTHCHECK passes


@pytest.mark.docker
@pytest.mark.slow
def test_slim_image_refuses_a_tampered_model(slim_image, tmp_path):
    from mllab.model.artifacts import default_model

    tampered = tmp_path / "model.onnx"
    shutil.copyfile(default_model(), tampered)
    flip_bit(tampered, offset=-1000)  # one bit near the end (in the weights)
    mount = {str(tampered): {"bind": "/app/model.onnx", "mode": "ro"}}
    with pytest.raises(ContainerFailed) as error:  # raised on entering: never ready
        with run(slim_image, name="mllab-test-tampered", read_only=True, volumes=mount, timeout=60):
            pass
    assert error.value.exit_code not in (None, 0)
    assert "refusing to load /app/model.onnx" in error.value.logs
    assert "sha256" in str(error.value)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.own_image  # ~2 min cold, its own tag and wheelhouse: beside the engine's worker
def test_cuda_image_builds_with_onnxruntime_gpu():
    tag = build_cuda(on_log=None)
    info = inspect(tag)
    assert info.env["DEVICE"] == "cuda"
    assert info.env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert info.labels["org.mllab.min-driver"] == "580"
    from mllab.containers.engine import client

    probe = "import onnxruntime as o; print(o.__version__, o.get_available_providers())"
    output = client().containers.run(tag, ["python", "-c", probe], remove=True).decode()
    assert output.startswith("1.31.1") and "CUDAExecutionProvider" in output


@pytest.mark.slow
def test_stage_context_holds_only_what_the_dockerfile_copies():
    context = stage_context("slim", on_log=None)
    top = sorted(p.name for p in context.iterdir())
    assert top == sorted(
        [".dockerignore", "Dockerfile", "data", "dist", "model.onnx", "model.onnx.sha256"]
        + ["requirements.lock", "wheels"]
    )
    pins = parse_lock(DOCKER / "requirements.lock")
    wheels = sorted((context / "wheels").iterdir())
    assert len(wheels) == len(pins)
    assert {wheel_name_version(w) for w in wheels} == {(p.name, p.version) for p in pins}
    sha = (context / "model.onnx.sha256").read_text().split()
    assert sha[1] == "model.onnx" and sha[0] == sha256_file(context / "model.onnx")
