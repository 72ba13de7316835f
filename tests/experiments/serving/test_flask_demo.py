"""C12's evidence: the lecture's Flask ``server.py`` run as written and corrected."""

from __future__ import annotations

import socket

from mllab.core.records import as_fields
from mllab.experiments.serving.flask_demo import (
    FlaskRun,
    LectureFlask,
    lecture_source,
    run_lecture_flask,
)
from mllab.serve.process import free_port, port_open


def test_the_lecture_source_is_verbatim_and_the_fix_only_appends():
    written = lecture_source()
    assert written.startswith(
        "import onnxruntime as ort\nfrom flask import Flask, request, jsonify"
    )
    assert 'session = ort.InferenceSession("model.onnx")' in written and "app.run" not in written
    corrected = lecture_source(corrected=True, port=9999)
    assert corrected.startswith(written)
    assert corrected[len(written) :].strip().splitlines() == [
        'if __name__ == "__main__":',
        '    app.run(host="0.0.0.0", port=9999)',
    ]


def test_lecture_flask_as_written_exits_without_listening(tiny_model, tmp_path):
    where = {"port": free_port(), "timeout": 60}  # not 8080: other tests may serve there meanwhile
    run = run_lecture_flask(tiny_model, tmp_path / "as_written", corrected=False, **where)
    assert isinstance(run, FlaskRun) and run.outcome.ok
    assert run.exited and run.exit_code == 0, run.log_tail
    assert run.listening is False and run.status is None and not run.corrected
    assert (tmp_path / "as_written" / "server.py").read_text() == lecture_source()


def test_lecture_flask_corrected_serves_the_json_body(tiny_model, tmp_path):
    run = run_lecture_flask(tiny_model, tmp_path / "corrected", corrected=True, port=free_port())
    assert run.outcome.ok and run.listening and run.status == 200, run.log_tail
    assert not run.exited and run.output_shape == [1, 1000]
    assert run.max_abs_vs_ort == 0.0  # the same file, the same input, the same ONNX Runtime
    assert not port_open(run.port)  # stopped afterwards


def test_a_busy_port_is_replaced_by_a_free_one(tiny_model, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        run = run_lecture_flask(tiny_model, tmp_path / "busy", corrected=True, port=busy)
    assert run.port_was_busy and run.port != busy and run.status == 200, run.log_tail


def test_lecture_flask_record_has_the_c12_fields():
    run = FlaskRun(
        **{f: None for f in ("exit_code", "status")},
        outcome=None,
        exited=True,
        listening=False,
        port=8080,
        log_tail="",
    )
    fields = as_fields(LectureFlask(run, run))
    c12 = {"outcome", "exited", "exit_code", "listening", "port", "status", "log_tail"}
    assert c12 <= set(fields["as_written"]) and c12 <= set(fields["corrected"])
