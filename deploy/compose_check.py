"""End-to-end check of docker-compose.cpu.yml on a real Docker engine (deploy/compose_check.sh runs it).

Builds every image of the CPU file (timed), starts the stack under its own project name and port, waits for the
gateway to be healthy (timed), then checks, against the running containers:

1. a real post (benchmarks/photos/posts.jsonl, its photo built from packaged images) gets the entity it names,
   with its type, a box on the gold box and a mask;
2. only the gateway publishes a port;
3. a stopped stage gives `degraded` answers, and a stage whose process exits is restarted (restart policy);
4. with an API keys file (a compose override, as the README shows), the gateway wants a key;
5. `gmner serve` (the embedded runner, this machine's .venv) gives the same entities for the same post.

Then `down -v`. It prints the build time and size of each image, the time to healthy and the answer; exit 1 when a
check fails. Needs docker with compose v2, the dev environment (.venv with scikit-image for the photo) and, for 5,
a working `gmner serve` (scripts/setup.sh); `--skip-embedded` leaves 5 out.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.photos.images import build as build_photo  # noqa: E402
from shared.auth import hash_key, new_key  # noqa: E402

COMPOSE_FILE = "docker-compose.cpu.yml"
PROJECT = "gmner-cpu-check"
# The images in build order: the slow LLM build first, so the others' output is not waited for behind it.
SERVICES = ("llm", "ner", "expansion", "ve", "vg", "sam", "gateway")
# Ports of the `gmner serve` run of check 5, away from the defaults another run on this machine may hold.
EMBEDDED_PORTS = {
    "GATEWAY": 18100,
    "NER": 18101,
    "EXPANSION": 18102,
    "VE": 18103,
    "VG": 18104,
    "SAM": 18105,
    "LLM": 18110,
    "REDIS": 18179,
}


class CheckFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def compose(*args: str, env: dict[str, str], files: tuple[str, ...] = (COMPOSE_FILE,)) -> str:
    command = ["docker", "compose", "-p", PROJECT]
    for name in files:
        command += ["-f", name]
    result = subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise CheckFailed(f"docker compose {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout


def docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise CheckFailed(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def container_id(service: str, env: dict[str, str]) -> str:
    return compose("ps", "-q", service, env=env).strip()


def health(container: str) -> str:
    return docker("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", container)


def wait_healthy(services: tuple[str, ...], env: dict[str, str], timeout_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        states = {s: health(container_id(s, env)) for s in services}
        if all(state == "healthy" for state in states.values()):
            return time.monotonic() - start
        time.sleep(3)
    raise CheckFailed(f"not healthy after {timeout_s:.0f} s: {states}")


def first_healthy_probe(services: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
    """Seconds from each container's start to its first passing health probe (from Docker's health log)."""
    times = {}
    for service in services:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", container_id(service, env)))
        log_entries = (state.get("Health") or {}).get("Log") or []
        started = _docker_time(state["StartedAt"])
        healthy = [_docker_time(entry["End"]) for entry in log_entries if entry.get("ExitCode") == 0]
        if healthy:
            times[service] = round(min(healthy) - started, 1)
    return times


def _docker_time(value: str) -> float:
    # Docker writes RFC 3339 with nanoseconds; fromisoformat takes at most microseconds.
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if match is None:
        raise CheckFailed(f"not a Docker time: {value!r}")
    head, fraction, zone = match.groups()
    stamp = f"{head}.{(fraction or '0')[:6]}{'+00:00' if zone == 'Z' else zone}"
    return datetime.fromisoformat(stamp).timestamp()


def unhealthy_logs(env: dict[str, str], lines: int = 40) -> str:
    """The last log lines of every container that is not healthy: why a check failed, before `down -v`."""
    parts = []
    for service in ("redis", *SERVICES):
        try:
            container = container_id(service, env)
            if not container or health(container) == "healthy":
                continue
            parts.append(f"---- {service} ({health(container)}): the last {lines} log lines ----")
            parts.append(compose("logs", "--no-color", "--tail", str(lines), service, env=env))
        except CheckFailed as exc:
            parts.append(f"---- {service}: {exc}")
    return "\n".join(parts)


def image_size_mb(image: str) -> float:
    return int(docker("image", "inspect", "--format", "{{.Size}}", image)) / 1e6


def load_post(post_id: str) -> dict[str, Any]:
    for line in (ROOT / "benchmarks" / "photos" / "posts.jsonl").read_text().splitlines():
        post: dict[str, Any] = json.loads(line)
        if post["id"] == post_id:
            return post
    raise CheckFailed(f"no post {post_id!r} in benchmarks/photos/posts.jsonl")


def photo_b64(post: dict[str, Any]) -> str:
    buffer = io.BytesIO()
    build_photo(post["image"]).save(buffer, format="JPEG", quality=92)
    return base64.b64encode(buffer.getvalue()).decode()


def ask(base_url: str, post: dict[str, Any], image_b64: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"text": post["text"], "image_b64": image_b64}
    return httpx.post(f"{base_url}/v1/gmner", json=body, headers=headers or {}, timeout=300)


def iou(a: list[float], b: list[float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def check_answer(answer: dict[str, Any], post: dict[str, Any]) -> list[str]:
    """Every gold entity with a gold box: found, with its type, a box on a gold box (IoU >= 0.5) and a mask."""
    problems = []
    found = {e["text"]: e for e in answer["entities"]}
    for gold in post["entities"]:
        if not gold["boxes"]:
            continue
        entity = found.get(gold["text"])
        if entity is None:
            problems.append(f"{gold['text']!r} not found (entities: {sorted(found)})")
            continue
        if entity["type"] != gold["type"]:
            problems.append(f"{gold['text']!r}: type {entity['type']}, gold {gold['type']}")
        box = entity.get("box")
        if box is None or max(iou(box, g) for g in gold["boxes"]) < 0.5:
            problems.append(f"{gold['text']!r}: box {box} is not on a gold box {gold['boxes']}")
        mask = entity.get("mask")
        if not mask or not mask.get("counts") or mask.get("size") is None:
            problems.append(f"{gold['text']!r}: no mask")
    if answer["degraded"]:
        problems.append(f"degraded: {answer['degraded']}")
    return problems


def summary(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer without the masks' run lengths (their size and area stand for them)."""
    entities = []
    for entity in answer["entities"]:
        mask = entity.get("mask")
        entities.append(
            {
                "text": entity["text"],
                "type": entity["type"],
                "groundable": entity.get("groundable"),
                "box": entity.get("box"),
                "mask": None if not mask else {"size": mask["size"], "counts_chars": len(str(mask["counts"]))},
                "visual_reason": entity.get("visual_reason"),
            }
        )
    return entities


@contextmanager
def embedded_stack(python: str) -> Iterator[str]:
    """`gmner serve` on EMBEDDED_PORTS with this repository's code; yields its gateway URL. Other GMNER_* variables
    of this environment apply (e.g. GMNER_VE_DETECTOR__NODE_MODULES for npm packages installed elsewhere)."""
    env = dict(os.environ)
    env.update({f"GMNER_EMBEDDED_{name}_PORT": str(port) for name, port in EMBEDDED_PORTS.items()})
    env["PYTHONPATH"] = str(ROOT)
    log_file = tempfile.NamedTemporaryFile(prefix="gmner-serve-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [python, "-m", "gmner.cli", "serve"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{EMBEDDED_PORTS['GATEWAY']}"
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CheckFailed(f"gmner serve exited {process.returncode}: see {log_file.name}")
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(3)
        else:
            raise CheckFailed(f"gmner serve not ready after 900 s: see {log_file.name}")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    env["GATEWAY_PUBLISHED_PORT"] = str(args.port)
    # The classic builder: BuildKit fetches its Dockerfile frontend from Docker Hub, which may be out of reach.
    env.setdefault("DOCKER_BUILDKIT", "0")
    base_url = f"http://127.0.0.1:{args.port}"
    report: dict[str, Any] = {"build_s": {}, "image_mb": {}}
    post = load_post(args.post)
    image_b64 = photo_b64(post)

    if not args.no_build:
        for service in SERVICES:
            start = time.monotonic()
            compose("build", service, env=env)
            report["build_s"][service] = round(time.monotonic() - start, 1)
            log(f"built {service} in {report['build_s'][service]} s")
    config = json.loads(compose("config", "--format", "json", env=env))
    for service, spec in config["services"].items():
        report["image_mb"][service] = round(image_size_mb(spec["image"]), 1)

    # `up -d` itself waits for the stages to be healthy (the gateway depends on them), then starts the gateway.
    start = time.monotonic()
    compose("up", "-d", env=env)
    wait_healthy(("gateway",), env, args.timeout)
    report["healthy_s"] = round(time.monotonic() - start, 1)
    # Probes run every 10 s (the compose file's interval), so this is a bound, not a measure: 10.x means healthy
    # at the first probe.
    report["first_healthy_probe_s"] = first_healthy_probe(config["services"], env)
    log(f"gateway healthy {report['healthy_s']} s after `up -d` began")

    # 2. Only the gateway publishes a port.
    published = {}
    for service in config["services"]:
        ports = docker("port", container_id(service, env))
        if ports:
            published[service] = ports.splitlines()
    report["published"] = published
    if set(published) != {"gateway"}:
        raise CheckFailed(f"published ports: {published}")

    # 1. The post, twice: the second answer comes from warm caches (the LLM answers are in Redis).
    start = time.monotonic()
    response = ask(base_url, post, image_b64)
    report["first_answer_s"] = round(time.monotonic() - start, 2)
    if response.status_code != 200:
        raise CheckFailed(f"POST /v1/gmner: {response.status_code} {response.text[:500]}")
    answer = response.json()
    report["answer"] = {"text": post["text"], "entities": summary(answer), "degraded": answer["degraded"]}
    report["answer_timings_ms"] = answer.get("timings_ms")
    problems = check_answer(answer, post)
    start = time.monotonic()
    ask(base_url, post, image_b64).raise_for_status()
    report["second_answer_s"] = round(time.monotonic() - start, 2)
    if problems:
        raise CheckFailed(f"answer to {post['id']}: {problems}")
    log(f"answer: {json.dumps(report['answer'])}")

    # 3. A stopped stage: the answer says `degraded`; started again, it is whole again.
    compose("stop", "vg", env=env)
    degraded = ask(base_url, post, image_b64)
    report["degraded_with_vg_stopped"] = degraded.json().get("degraded") if degraded.status_code == 200 else None
    if degraded.status_code != 200 or "vg" not in degraded.json()["degraded"]:
        raise CheckFailed(f"with vg stopped: {degraded.status_code} {degraded.text[:300]}")
    compose("start", "vg", env=env)
    wait_healthy(("vg",), env, args.timeout)
    again = ask(base_url, post, image_b64).json()
    if again["degraded"]:
        raise CheckFailed(f"vg started again, still degraded: {again['degraded']}")
    # The restart policy: a stage process that exits is started again by Docker.
    vg = container_id("vg", env)
    restarts = int(docker("inspect", "--format", "{{.RestartCount}}", vg))
    docker("exec", vg, "sh", "-c", "kill 1")
    deadline = time.monotonic() + args.timeout
    while int(docker("inspect", "--format", "{{.RestartCount}}", vg)) == restarts:
        if time.monotonic() > deadline:
            raise CheckFailed("vg exited and was not restarted")
        time.sleep(1)
    report["vg_restarted_healthy_s"] = round(wait_healthy(("vg",), env, args.timeout), 1)
    log(f"vg: degraded while stopped; restarted by Docker, healthy {report['vg_restarted_healthy_s']} s after exiting")

    # 4. API keys: the override the README shows (a keys file as a compose secret).
    with tempfile.TemporaryDirectory() as tmp:
        key = new_key()
        keys_file = Path(tmp) / "api-keys"
        keys_file.write_text(f"compose-check:{hash_key(key)}\n")
        keys_file.chmod(0o644)
        override = Path(tmp) / "keys.yml"
        override.write_text(
            "services:\n  gateway:\n    environment:\n"
            "      GMNER_GATEWAY_API_KEYS_FILE: /run/secrets/gmner-api-keys\n"
            "    secrets: [gmner-api-keys]\n"
            f"secrets:\n  gmner-api-keys:\n    file: {keys_file}\n"
        )
        files = (COMPOSE_FILE, str(override))
        compose("up", "-d", "gateway", env=env, files=files)
        wait_healthy(("gateway",), env, args.timeout)
        without = ask(base_url, post, image_b64)
        wrong = ask(base_url, post, image_b64, {"Authorization": "Bearer gmner_wrong"})
        with_key = ask(base_url, post, image_b64, {"Authorization": f"Bearer {key}"})
        report["api_keys"] = {"none": without.status_code, "wrong": wrong.status_code, "right": with_key.status_code}
        if (without.status_code, wrong.status_code, with_key.status_code) != (401, 403, 200):
            raise CheckFailed(f"API keys: {report['api_keys']}")
        log(f"API keys: {report['api_keys']}")
    return report


def compare_with_embedded(report: dict[str, Any], post: dict[str, Any], python: str) -> None:
    """5. The same post through `gmner serve`: the same entities (text, type)."""
    with embedded_stack(python) as url:
        response = ask(url, post, photo_b64(post))
        response.raise_for_status()
    embedded = summary(response.json())
    report["embedded_answer"] = embedded
    ours = sorted((e["text"], e["type"]) for e in report["answer"]["entities"])
    theirs = sorted((e["text"], e["type"]) for e in embedded)
    if ours != theirs:
        raise CheckFailed(f"compose answered {ours}, gmner serve {theirs}")
    log(f"gmner serve gives the same entities: {theirs}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=18000, help="Host port for the gateway (default 18000).")
    parser.add_argument("--post", default="p01", help="Post id of benchmarks/photos/posts.jsonl (default p01).")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds to wait for healthy containers.")
    parser.add_argument("--no-build", action="store_true", help="Use the images already built.")
    parser.add_argument("--keep", action="store_true", help="Leave the stack running (no `down -v`).")
    parser.add_argument("--skip-embedded", action="store_true", help="Do not compare with `gmner serve`.")
    args = parser.parse_args()
    if not (ROOT / ".env").is_file():
        raise SystemExit("compose_check: no .env: cp .env.example .env (and see the README's Deployment section)")
    report: dict[str, Any] = {}
    failed = None
    try:
        report = run(args)
    except CheckFailed as exc:
        failed = str(exc)
        print(unhealthy_logs({**os.environ, "GATEWAY_PUBLISHED_PORT": str(args.port)}), file=sys.stderr)
    finally:
        if not args.keep:
            env = {**os.environ, "GATEWAY_PUBLISHED_PORT": str(args.port)}
            compose("down", "-v", "--remove-orphans", env=env)
            log("down -v")
    if failed is None and not args.skip_embedded:
        try:
            compare_with_embedded(report, load_post(args.post), sys.executable)
        except CheckFailed as exc:
            failed = str(exc)
    print(json.dumps(report, indent=2))
    if failed:
        print(f"compose_check: FAILED: {failed}", file=sys.stderr)
        return 1
    print("compose_check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
