"""The photo benchmark: out-of-domain posts written for this repo, on photos that ship inside packages.

benchmarks/photos/posts.jsonl (README.md there describes the set: halves, tags, sources). Each post is in half A
(defaults are tuned on it) or B (held out); the table has a row per half and one for all the posts run.

Oracle mode (default): each backend's VE and VG apps run in this process (FastAPI TestClient, the same HTTP
handlers as `gmner serve`), one backend pair at a time, with the gold entities and their descriptions as the
expressions: NER and expansion are the oracle here, so MNER is 100 by construction and GMNER / EEG measure the
visual stages alone. Text-only posts make no VE/VG call (their entities are predicted ungroundable).

With `--gateway`, each backend instead gets the whole embedded stack (LLM server, NER, expansion, VE, VG; SAM too
for `--tasks smner`) started on free ports, and every post goes through the gateway as a user sends it (the raw
text; no image for a text-only post): the tagger finds the entities and the bundled LLM writes the expressions
the visual stages read, so MNER, GMNER and EEG measure the service end to end; latency is per post, end to end.

Scoring: `gmner eval`'s rules (gmner.eval.metrics.evaluate) on the gold tokens of benchmarks/photos/tokens.py
(Twitter-GMNER's tokenisation: `#Tag` -> `#` `Tag`); the gateway's character offsets are moved onto them.
Posts whose photo package is missing are skipped with one warning line per package
(benchmarks/photos/install_photos.sh fetches them).

    python benchmarks/bench_photos.py [--backends faces,detector] [--half A|B|all] [--tags]
    python benchmarks/bench_photos.py --gateway [--llm qwen2.5-0.5b] [--use-knowledge true] \
        [--stack-env GMNER_VG_X=1 ...] [--tasks gmner|smner] [--out preds.jsonl] [--label NAME]
    python benchmarks/bench_photos.py --score preds.jsonl [--half A] [--tags]     # re-score saved predictions
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.photos.images import MissingPhotoPackage, build
from benchmarks.photos.tokens import find_span, to_token_offsets, tokenize
from gmner.eval.gold import GoldEntity, GoldPost
from gmner.eval.metrics import EvalResult, evaluate
from gmner.eval.predictions import read_predictions

POSTS = Path(__file__).parent / "photos" / "posts.jsonl"
HALVES = ("A", "B")

Post = dict[str, Any]
Line = dict[str, Any]


def load_posts(path: Path = POSTS) -> list[Post]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_text(text: str) -> str:
    return " ".join(tok for tok, _, _ in tokenize(text))


def gold_of(post: Post) -> GoldPost:
    tokens = [tok for tok, _, _ in tokenize(post["text"])]
    entities = []
    for e in post["entities"]:
        words = e["text"].split()
        start = find_span(tokens, words)
        if start is None:
            raise ValueError(f"{post['id']}: entity {e['text']!r} is not whole tokens of {tokens}")
        boxes = tuple((float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in e["boxes"])
        entities.append(GoldEntity(start, start + len(words), e["type"], e["text"], boxes))
    return GoldPost(post["id"], tokens, entities)


def encode_images(posts: list[Post]) -> tuple[list[Post], dict[str, str]]:
    """PNG base64 of each post's image; posts whose photo package is missing are dropped (one warning a package)."""
    images: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    kept = []
    for post in posts:
        spec = post["image"]
        if spec is not None and spec not in images:
            try:
                image = build(spec)
            except MissingPhotoPackage as exc:
                missing.setdefault(exc.package, []).append(post["id"])
                continue
            buf = io.BytesIO()
            image.save(buf, "PNG")
            images[spec] = base64.b64encode(buf.getvalue()).decode()
        kept.append(post)
    for package, ids in sorted(missing.items()):
        print(
            f"warning: skipping {len(ids)} posts ({', '.join(ids)}): photo package {package} is missing "
            "(run benchmarks/photos/install_photos.sh)",
            file=sys.stderr,
        )
    return kept, images


@dataclass
class Run:
    """One backend's predictions (gateway answers moved onto the gold tokens) and per-post latency."""

    label: str
    lines: list[Line]
    latency_ms: dict[str, float] = field(default_factory=dict)  # post id -> ms


def expressions_of(post: Post) -> list[dict[str, str]]:
    return [
        {"entity": e["text"], "type": e["type"], "expression": f"{e['text']} ({e['type']}) – {e['description']}"}
        for e in post["entities"]
    ]


def run_oracle(backend: str, posts: list[Post], images: dict[str, str]) -> Run:
    from fastapi.testclient import TestClient

    from services.ve.app import create_app as create_ve
    from services.ve.settings import VESettings
    from services.vg.app import create_app as create_vg
    from services.vg.settings import VGSettings

    ve_settings = VESettings(backend=backend, log_level="WARNING", log_json=False, torch_threads=1)
    vg_settings = VGSettings(backend=backend, log_level="WARNING", log_json=False, torch_threads=1)
    run = Run(backend, [])
    with TestClient(create_ve(ve_settings)) as ve, TestClient(create_vg(vg_settings)) as vg:
        for post in posts:
            expressions = expressions_of(post)
            boxes: dict[int, list[float] | None] = {}
            t0 = time.perf_counter()
            if post["image"] is not None and expressions:
                image = images[post["image"]]
                r = ve.post("/v1/entail", json={"image_b64": image, "expressions": expressions})
                r.raise_for_status()
                keep = [i for i, e in enumerate(r.json()["results"]) if e["groundable"]]
                if keep:
                    r = vg.post("/v1/ground", json={"image_b64": image, "expressions": [expressions[i] for i in keep]})
                    r.raise_for_status()
                    boxes = {i: g["box"] for i, g in zip(keep, r.json()["results"], strict=True)}
                run.latency_ms[post["id"]] = (time.perf_counter() - t0) * 1000  # only posts that call VE
            entities = [
                {"text": e["text"], "type": e["type"], "groundable": boxes.get(i) is not None, "box": boxes.get(i)}
                for i, e in enumerate(post["entities"])
            ]
            run.lines.append({"id": post["id"], "text": gold_text(post["text"]), "entities": entities})
    return run


def on_gold_tokens(post: Post, answer: dict[str, Any]) -> Line:
    """A gateway answer as a prediction line on the gold text: each entity's offsets moved onto the gold tokens.

    An entity whose span does not start and end on token boundaries keeps only its surface text (so it matches a
    gold span only where those words are one).
    """
    entities = []
    for entity in answer.get("entities", []):
        moved = dict(entity)
        span = to_token_offsets(post["text"], int(entity["start"]), int(entity["end"]))
        if span is None:
            moved.pop("start", None)
            moved.pop("end", None)
        else:
            moved["start"], moved["end"] = span
        entities.append(moved)
    return {
        "id": post["id"],
        "text": gold_text(post["text"]),
        "raw_text": post["text"],
        "entities": entities,
        "degraded": answer.get("degraded", []),
        "timings_ms": answer.get("timings_ms", {}),
    }


def run_gateway(backend: str, posts: list[Post], images: dict[str, str], args: argparse.Namespace) -> Run:
    import socket
    import uuid

    import httpx

    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    stages = ["ner", "expansion", "ve", "vg", *(["sam"] if args.tasks == "smner" else [])]
    ports = {f"{name}_port": free_port() for name in ("gateway", "llm", *stages)}
    if args.llm:
        os.environ["GMNER_EMBEDDED_LLM"] = args.llm  # read by EmbeddedSettings below, as `gmner serve` reads it
    settings = EmbeddedSettings(stages=stages, log_dir=Path(tempfile.mkdtemp()), ready_timeout_s=600, **ports)
    env = {
        "GMNER_VE_BACKEND": backend,
        "GMNER_VG_BACKEND": backend,
        "GMNER_LLM_CACHE_PREFIX": f"gmner:bench-photos:{uuid.uuid4().hex}:",
        "GMNER_GATEWAY_DEADLINE_S": "600",
        "GMNER_GATEWAY_EXPANSION_TIMEOUT_S": "300",
        "GMNER_LLM_TIMEOUT_S": "240",
        **dict(item.split("=", 1) for item in args.stack_env),
    }
    run = Run(args.label or backend, [])
    with EmbeddedStack(settings, extra_env=env) as stack, httpx.Client(timeout=900) as client:
        for post in posts:
            body: dict[str, Any] = {"text": post["text"], "tasks": args.tasks}
            if post["image"] is not None:
                body["image_b64"] = images[post["image"]]
            if args.use_knowledge != "default":
                body["use_knowledge"] = args.use_knowledge == "true"
            t0 = time.perf_counter()
            response = client.post(f"{stack.gateway_url}/v1/gmner", json=body)
            run.latency_ms[post["id"]] = (time.perf_counter() - t0) * 1000
            if response.is_error:
                print(f"  {post['id']}: HTTP {response.status_code} {response.text[:200]}", file=sys.stderr)
                run.lines.append({"id": post["id"], "error": response.status_code})
                continue
            answer = response.json()
            if answer["degraded"]:
                print(f"  {post['id']}: degraded {answer['degraded']}", file=sys.stderr)
            run.lines.append(on_gold_tokens(post, answer))
    return run


def score(gold: list[GoldPost], lines: list[Line]) -> EvalResult:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as f:
        f.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        f.flush()
        return evaluate(gold, read_predictions(f.name))


def percentile(values: Iterable[float], q: float) -> float | None:
    values = list(values)
    return float(np.percentile(values, q)) if values else None


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


HEADER = (
    "| run | half | posts | entities | MNER F1 | GMNER P | GMNER R | GMNER F1 | EEG F1 | p50 ms | p95 ms |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def groups(posts: list[Post]) -> list[tuple[str, list[Post]]]:
    """(name, posts) for each half that has posts here, then all of them."""
    out = [(h, [p for p in posts if p["half"] == h]) for h in HALVES]
    return [(name, members) for name, members in out if members] + [("all", posts)]


def table_rows(run: Run, posts: list[Post]) -> list[str]:
    by_id = {line["id"]: line for line in run.lines}
    rows = []
    for name, members in groups(posts):
        gold = [gold_of(p) for p in members]
        metrics = score(gold, [by_id[p["id"]] for p in members if p["id"] in by_id]).metrics
        latency = [run.latency_ms[p["id"]] for p in members if p["id"] in run.latency_ms]
        g = metrics["GMNER"]
        rows.append(
            f"| {run.label} | {name} | {len(members)} | {sum(len(x.entities) for x in gold)} "
            f"| {100 * metrics['MNER'].f1:.1f} | {100 * g.precision:.1f} | {100 * g.recall:.1f} | {100 * g.f1:.1f} "
            f"| {100 * metrics['EEG'].f1:.1f} | {ms(percentile(latency, 50))} | {ms(percentile(latency, 95))} |"
        )
    return rows


def tag_rows(run: Run, posts: list[Post]) -> list[str]:
    """EEG F1 per tag and half (entities of the posts with that tag); `–` where a half has none."""
    by_id = {line["id"]: line for line in run.lines}
    rows = []
    for tag in sorted({t for p in posts for t in p["tags"]}):
        tagged = [p for p in posts if tag in p["tags"]]
        cells = []
        for name in (*HALVES, "all"):
            members = tagged if name == "all" else [p for p in tagged if p["half"] == name]
            gold = [gold_of(p) for p in members]
            if not any(g.entities for g in gold):
                cells.append("–")
                continue
            eeg = score(gold, [by_id[p["id"]] for p in members if p["id"] in by_id]).metrics["EEG"]
            cells.append(f"{100 * eeg.f1:.1f} ({eeg.tp}/{eeg.gold})")
        entities = sum(len(p["entities"]) for p in tagged)
        rows.append(f"| {run.label} | {tag} | {len(tagged)} | {entities} | " + " | ".join(cells) + " |")
    return rows


def describe(posts: list[Post]) -> str:
    gold = [gold_of(p) for p in posts]
    n_boxed = sum(bool(e.boxes) for p in gold for e in p.entities)
    halves = ", ".join(f"{name} {len(members)}" for name, members in groups(posts)[:-1])
    return (
        f"{len(posts)} posts ({halves}), {sum(len(p.entities) for p in gold)} entities, {n_boxed} with a gold box, "
        f"{sum(p['image'] is None for p in posts)} text-only"
    )


def out_path(out: str, label: str, several: bool) -> Path:
    path = Path(out)
    return path.with_name(f"{path.stem}.{label}{path.suffix}") if several else path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="faces,detector", help="VE/VG backends, one run each")
    parser.add_argument("--half", choices=["A", "B", "all"], default="all", help="run only these posts")
    parser.add_argument("--tags", action="store_true", help="print EEG per tag after the table")
    parser.add_argument("--gateway", action="store_true", help="through the gateway of a full embedded stack")
    parser.add_argument("--llm", help="gateway mode: bundled LLM (GMNER_EMBEDDED_LLM), e.g. qwen2.5-0.5b")
    parser.add_argument(
        "--use-knowledge",
        choices=["default", "true", "false"],
        default="default",
        help="gateway mode: the request's use_knowledge (default: omitted, the stack's default)",
    )
    parser.add_argument(
        "--stack-env", action="append", default=[], metavar="KEY=VALUE", help="gateway mode: extra env for the stack"
    )
    parser.add_argument("--tasks", choices=["gmner", "smner"], default="gmner", help="gateway mode: request tasks")
    parser.add_argument("--out", help="write the predictions JSONL here (FILE.<label>.jsonl with several backends)")
    parser.add_argument("--label", help="the row's name (default: the backend)")
    parser.add_argument("--score", metavar="FILE", help="score a predictions JSONL written by --out; runs nothing")
    parser.add_argument("--posts", type=Path, default=POSTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for item in args.stack_env:
        if "=" not in item:
            parser.error(f"--stack-env wants KEY=VALUE, got {item!r}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    posts = [p for p in load_posts(args.posts) if args.half in ("all", p["half"])]
    runs: list[Run] = []
    if args.score:
        lines = [json.loads(x) for x in Path(args.score).read_text(encoding="utf-8").splitlines() if x.strip()]
        ids = {line["id"] for line in lines}
        posts = [p for p in posts if p["id"] in ids]
        latency = {line["id"]: float(line["latency_ms"]) for line in lines if "latency_ms" in line}
        runs.append(Run(args.label or Path(args.score).stem, lines, latency))
        print(describe(posts))
    else:
        posts, images = encode_images(posts)
        print(describe(posts))
        backends = args.backends.split(",")

        def runner(backend: str) -> Run:
            return run_gateway(backend, posts, images, args) if args.gateway else run_oracle(backend, posts, images)

        for backend in backends:
            run = runner(backend)
            if args.label and len(backends) > 1:
                run.label = f"{args.label}/{backend}"
            runs.append(run)
            if args.out:
                path = out_path(args.out, backend, len(backends) > 1)
                path.write_text(
                    "".join(
                        json.dumps({**line, "latency_ms": run.latency_ms.get(line["id"])}, ensure_ascii=False) + "\n"
                        for line in run.lines
                    ),
                    encoding="utf-8",
                )
    mode = "as saved" if args.score else "end to end per post" if args.gateway else "VE+VG per post, in process"
    print(f"latency: {mode}")
    print(HEADER)
    for run in runs:
        print("\n".join(table_rows(run, posts)))
    if args.tags:
        print("\nEEG F1 per tag (tp/gold entities)")
        print("| run | tag | posts | entities | A | B | all |\n|---|---|---:|---:|---:|---:|---:|")
        for run in runs:
            print("\n".join(tag_rows(run, posts)))


if __name__ == "__main__":
    main()
