"""The photo benchmark: VE + VG backends on benchmarks/photos (26 posts, 55 entities, 22 with a gold box).

Runs each backend's VE and VG apps in this process (FastAPI TestClient, the same HTTP handlers as
`gmner serve`), one backend pair at a time, with the gold entities and their descriptions as the
expressions: NER and expansion are the oracle here, so MNER is 100 by construction and GMNER / EEG
measure the visual stages alone. Scored with `gmner eval`'s rules (gmner.eval.metrics.evaluate).

With `--gateway`, each backend instead gets the whole embedded stack (LLM server, NER, expansion, VE, VG;
`tasks=gmner`) started on free ports, and every post goes through the gateway as a user sends it: the
tagger finds the entities and the bundled LLM writes the expressions the visual stages read, so MNER, GMNER and
EEG measure the service end to end. Per-stage latency is the gateway's own `timings_ms`.

    python benchmarks/bench_photos.py [--backends faces,detector]
    python benchmarks/bench_photos.py --gateway [--backends faces,detector]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.photos.images import build
from gmner.eval.gold import GoldEntity, GoldPost
from gmner.eval.metrics import evaluate
from gmner.eval.predictions import read_predictions
from services.ve.app import create_app as create_ve
from services.ve.settings import VESettings
from services.vg.app import create_app as create_vg
from services.vg.settings import VGSettings

POSTS = Path(__file__).parent / "photos" / "posts.jsonl"


def load_posts() -> list[dict]:
    return [json.loads(line) for line in POSTS.read_text().splitlines() if line.strip()]


def gold_of(post: dict) -> GoldPost:
    tokens = post["text"].split()
    entities = []
    for e in post["entities"]:
        words = e["text"].split()
        start = next(i for i in range(len(tokens)) if tokens[i : i + len(words)] == words)
        boxes = tuple(tuple(float(v) for v in b) for b in e["boxes"])
        entities.append(GoldEntity(start, start + len(words), e["type"], e["text"], boxes))  # type: ignore[arg-type]
    return GoldPost(post["id"], tokens, entities)


def run_backend(backend: str, posts: list[dict], images: dict[str, str]) -> tuple[list[dict], dict[str, list[float]]]:
    ve_settings = VESettings(backend=backend, log_level="WARNING", log_json=False, torch_threads=1)
    vg_settings = VGSettings(backend=backend, log_level="WARNING", log_json=False, torch_threads=1)
    latency: dict[str, list[float]] = {"ve": [], "vg": []}
    lines = []
    with TestClient(create_ve(ve_settings)) as ve, TestClient(create_vg(vg_settings)) as vg:
        for post in posts:
            expressions = [
                {
                    "entity": e["text"],
                    "type": e["type"],
                    "expression": f"{e['text']} ({e['type']}) – {e['description']}",
                }
                for e in post["entities"]
            ]
            t0 = time.perf_counter()
            r = ve.post("/v1/entail", json={"image_b64": images[post["image"]], "expressions": expressions})
            latency["ve"].append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
            entail = r.json()["results"]
            keep = [i for i, e in enumerate(entail) if e["groundable"]]
            boxes: dict[int, list[float] | None] = {}
            if keep:
                t0 = time.perf_counter()
                r = vg.post(
                    "/v1/ground",
                    json={"image_b64": images[post["image"]], "expressions": [expressions[i] for i in keep]},
                )
                latency["vg"].append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                boxes = {i: g["box"] for i, g in zip(keep, r.json()["results"], strict=True)}
            entities = [
                {"text": e["text"], "type": e["type"], "groundable": boxes.get(i) is not None, "box": boxes.get(i)}
                for i, e in enumerate(post["entities"])
            ]
            lines.append({"id": post["id"], "text": post["text"], "entities": entities})
    return lines, latency


def run_gateway(backend: str, posts: list[dict], images: dict[str, str]) -> tuple[list[dict], dict[str, list[float]]]:
    import socket
    import uuid

    import httpx

    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    ports = {f"{name}_port": free_port() for name in ("gateway", "ner", "expansion", "ve", "vg", "llm")}
    settings = EmbeddedSettings(
        stages=["ner", "expansion", "ve", "vg"], log_dir=Path(tempfile.mkdtemp()), ready_timeout_s=600, **ports
    )
    env = {
        "GMNER_VE_BACKEND": backend,
        "GMNER_VG_BACKEND": backend,
        "GMNER_LLM_CACHE_PREFIX": f"gmner:bench-photos:{uuid.uuid4().hex}:",
        "GMNER_GATEWAY_DEADLINE_S": "600",
        "GMNER_GATEWAY_EXPANSION_TIMEOUT_S": "300",
        "GMNER_LLM_TIMEOUT_S": "240",
    }
    latency: dict[str, list[float]] = {"ve": [], "vg": [], "total": []}
    lines = []
    with EmbeddedStack(settings, extra_env=env) as stack, httpx.Client(timeout=900) as client:
        for post in posts:
            body = {"text": post["text"], "image_b64": images[post["image"]], "tasks": "gmner"}
            t0 = time.perf_counter()
            answer = client.post(f"{stack.gateway_url}/v1/gmner", json=body).raise_for_status().json()
            latency["total"].append((time.perf_counter() - t0) * 1000)
            for stage in ("ve", "vg"):
                if stage in answer["timings_ms"]:
                    latency[stage].append(answer["timings_ms"][stage])
            if answer["degraded"]:
                print(f"  {post['id']}: degraded {answer['degraded']}", file=sys.stderr)
            lines.append({"id": post["id"], "text": post["text"], "entities": answer["entities"]})
    return lines, latency


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="faces,detector")
    parser.add_argument("--gateway", action="store_true", help="through the gateway of a full embedded stack")
    args = parser.parse_args()
    posts = load_posts()
    images = {}
    for post in posts:
        if post["image"] not in images:
            buf = io.BytesIO()
            build(post["image"]).save(buf, "PNG")
            images[post["image"]] = base64.b64encode(buf.getvalue()).decode()
    gold = [gold_of(p) for p in posts]
    n_boxed = sum(bool(e.boxes) for p in gold for e in p.entities)
    print(f"{len(posts)} posts, {sum(len(p.entities) for p in gold)} entities, {n_boxed} with a gold box")
    print("| backend | MNER F1 | GMNER P | GMNER R | GMNER F1 | EEG F1 | VE median ms | VG median ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        lines, latency = (run_gateway if args.gateway else run_backend)(backend, posts, images)
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(json.dumps(line) for line in lines) + "\n")
        result = evaluate(gold, read_predictions(f.name)).to_dict()["metrics"]
        g = result["GMNER"]
        print(
            f"| {backend} | {100 * result['MNER']['f1']:.1f} | {100 * g['precision']:.1f} | {100 * g['recall']:.1f} "
            f"| {100 * g['f1']:.1f} "
            f"| {100 * result['EEG']['f1']:.1f} | {statistics.median(latency['ve']):.0f} "
            f"| {statistics.median(latency['vg']) if latency['vg'] else 0:.0f} |"
            + (f" total median {statistics.median(latency['total']):.0f} ms" if latency.get("total") else "")
        )


if __name__ == "__main__":
    main()
