"""`gmner predict-dataset` against a fake gateway (httpx.MockTransport): bodies sent, resume after failures/crash."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import httpx
import pytest

from gmner.eval.predict import PredictConfig, load_done_ids, run
from gmner.eval.predictions import read_predictions
from shared.protocol.gateway import GMNERJSONRequest

FIXTURES = Path(__file__).parent / "fixtures"
ALL_IDS = ["p1", "p2", "p3", "p4", "p5", "p6"]


class FakeGateway:
    """Answers POST /v1/gmner with one MISC entity over the first token; fails the ids in `fail` with `status`."""

    def __init__(self, fail: set[str] | None = None, status: int = 503) -> None:
        self.fail = fail or set()
        self.status = status
        self.requests: list[tuple[str, dict]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/v1/gmner"
        post_id = request.headers["X-Request-ID"].removeprefix("predict-dataset-")
        body = json.loads(request.content)
        self.requests.append((post_id, body))
        if post_id in self.fail:
            return httpx.Response(self.status, json={"error": {"code": "boom", "message": "boom"}})
        first = body["text"].split(" ")[0]
        entity = {"text": first, "type": "MISC", "start": 0, "end": len(first), "groundable": None, "box": None}
        return httpx.Response(
            200, json={"request_id": "r", "text": body["text"], "tasks": body["tasks"], "entities": [entity]}
        )


def _config(tmp_path: Path, **kw) -> PredictConfig:
    defaults = {"dataset_dir": FIXTURES / "tiny", "split": "test", "output": tmp_path / "preds.jsonl"}
    defaults.update(kw)
    return PredictConfig(progress=False, backoff_s=0.0, **defaults)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_text_only_run_with_knowledge(tmp_path):
    gateway = FakeGateway()
    log = io.StringIO()
    cfg = _config(
        tmp_path,
        knowledge_file=FIXTURES / "tiny_knowledge.txt",
        captions_file=FIXTURES / "tiny_captions.txt",
        use_knowledge=False,
        concurrency=3,
    )
    summary = run(cfg, transport=httpx.MockTransport(gateway), log=log)
    assert "tasks=mner" in log.getvalue()  # no images: the text path, and it says so
    assert summary.tasks == "mner" and summary.written == 6 and not summary.failed
    bodies = dict(gateway.requests)
    assert sorted(bodies) == ALL_IDS
    assert all(b["tasks"] == "mner" and "image_b64" not in b for b in bodies.values())
    assert bodies["p1"]["text"] == "Alice met Bob in Paris ."
    assert bodies["p1"]["knowledge"] == "Named entities: 1. Alice (person) 2. Paris (location)"
    assert bodies["p6"]["knowledge"] == "Obama (person) Chicago (location)"  # found by text (index shifted)
    assert "knowledge" not in bodies["p4"] and summary.missing_knowledge == 1  # not in the knowledge file
    assert bodies["p1"]["caption"] == "A woman and a man\nin a city." and "caption" not in bodies["p3"]
    assert all(b["use_knowledge"] is False for b in bodies.values())
    for body in bodies.values():  # every body is a valid gateway request (the schema forbids unknown fields)
        GMNERJSONRequest.model_validate(body)
    lines = _lines(cfg.output)
    assert sorted(line["id"] for line in lines) == ALL_IDS
    assert all(line["entities"][0]["type"] == "MISC" for line in lines)
    # the output is what `gmner eval` reads
    assert set(read_predictions(cfg.output).posts) == set(ALL_IDS)


def test_no_knowledge_fields_unless_asked(tmp_path):
    gateway = FakeGateway()
    run(_config(tmp_path, limit=2), transport=httpx.MockTransport(gateway), log=io.StringIO())
    assert [pid for pid, _ in gateway.requests] == ["p1", "p2"]  # --limit
    for _, body in gateway.requests:
        assert set(body) == {"text", "tasks"}


def test_resume_after_failures_and_a_crash(tmp_path):
    cfg = _config(tmp_path, retries=1)
    # Run 1: p3 fails twice (first try + 1 retry on 503) and is not written.
    first = FakeGateway(fail={"p3"})
    summary = run(cfg, transport=httpx.MockTransport(first), log=io.StringIO())
    assert summary.written == 5 and set(summary.failed) == {"p3"}
    assert [pid for pid, _ in first.requests].count("p3") == 2
    assert sorted(line["id"] for line in _lines(cfg.output)) == ["p1", "p2", "p4", "p5", "p6"]

    # A crash in the middle of writing p9's line leaves half a line at the end of the file.
    with open(cfg.output, "a") as f:
        f.write('{"id": "p9", "entities": [{"te')
    done, dropped = load_done_ids(cfg.output)
    assert dropped and done == {"p1", "p2", "p4", "p5", "p6"}
    assert cfg.output.read_text().endswith("}\n")  # the partial line is gone

    # Run 2: only p3 is asked again; nothing already written is asked or written twice.
    with open(cfg.output, "a") as f:
        f.write('{"id": "p9", "entities": [{"te')  # crash again, so run() itself repairs it
    second = FakeGateway()
    log = io.StringIO()
    summary = run(cfg, transport=httpx.MockTransport(second), log=log)
    assert [pid for pid, _ in second.requests] == ["p3"]
    assert summary.skipped == 5 and summary.written == 1 and summary.dropped_partial_line
    assert "resuming: 5 of 6" in log.getvalue()
    ids = [line["id"] for line in _lines(cfg.output)]
    assert sorted(ids) == ALL_IDS and len(ids) == len(set(ids))

    # Run 3: nothing left to do.
    third = FakeGateway()
    assert run(cfg, transport=httpx.MockTransport(third), log=io.StringIO()).written == 0
    assert third.requests == []


def test_client_errors_are_not_retried(tmp_path):
    gateway = FakeGateway(fail={"p2"}, status=422)
    summary = run(_config(tmp_path, retries=3), transport=httpx.MockTransport(gateway), log=io.StringIO())
    assert [pid for pid, _ in gateway.requests].count("p2") == 1
    assert "HTTP 422" in summary.failed["p2"]


def test_transport_errors_are_retried(tmp_path):
    calls = {"n": 0}
    inner = FakeGateway()

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return inner(request)

    summary = run(_config(tmp_path, limit=1, retries=1), transport=httpx.MockTransport(flaky), log=io.StringIO())
    assert summary.written == 1 and calls["n"] == 2


def test_images_switch_to_gmner(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "p1.jpg").write_bytes(b"\xff\xd8fake-jpeg")
    shutil.copy(images / "p1.jpg", images / "p2.png")
    gateway = FakeGateway()
    summary = run(_config(tmp_path, images_dir=images), transport=httpx.MockTransport(gateway), log=io.StringIO())
    bodies = dict(gateway.requests)
    assert summary.tasks == "gmner" and all(b["tasks"] == "gmner" for b in bodies.values())
    assert base64.b64decode(bodies["p1"]["image_b64"]) == b"\xff\xd8fake-jpeg"
    assert "image_b64" in bodies["p2"] and "image_b64" not in bodies["p3"]
    assert summary.missing_images == 4


def test_gmner_without_images_falls_back_to_mner(tmp_path):
    gateway = FakeGateway()
    log = io.StringIO()
    summary = run(_config(tmp_path, tasks="smner", limit=1), transport=httpx.MockTransport(gateway), log=log)
    assert summary.tasks == "mner" and gateway.requests[0][1]["tasks"] == "mner"
    assert "instead of tasks=smner" in log.getvalue()


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    """The command returns 1 when posts failed (and says how to retry), 0 when all are written."""
    import gmner.eval.predict as predict
    from gmner.cli import main

    real_run = predict.run
    gateway = FakeGateway(fail={"p5"}, status=400)
    monkeypatch.setattr(predict, "run", lambda cfg: real_run(cfg, transport=httpx.MockTransport(gateway)))
    out = tmp_path / "o.jsonl"
    args = ["predict-dataset", "--gold-dir", str(FIXTURES / "tiny"), "-o", str(out), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "failed: p5" in err and "rerun" in err
    gateway.fail = set()
    assert main(args) == 0
    assert "1 written, 5 already done" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "-2"])
def test_cli_rejects_bad_concurrency(tmp_path, bad, capsys):
    from gmner.cli import main

    args = ["predict-dataset", "--gold-dir", str(FIXTURES / "tiny"), "-o", str(tmp_path / "o"), "--concurrency", bad]
    assert main(args) == 2
