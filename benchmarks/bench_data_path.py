"""Bytes on the wire and gateway + transport time per request, with the image sent to VE, VG and SAM as base64
inside JSON (before) or as multipart bytes (after), for a 3-entity post.

    python benchmarks/bench_data_path.py [--repeat 5] [--sizes 0.26,2,8] [--json rows.json]

Starts the embedded stages on free ports (LLM server, NER, expansion, VE, VG, SAM: `EmbeddedStack`) and runs
the gateway app in this process (Starlette's TestClient, so the upload to the gateway costs the same in both
modes), switching `ServingGateway.stage_image` between `Base64StageImage` (below: the image as base64 inside the
JSON, as the gateway sent it before) and the gateway's own multipart `StageImage`, request by request.
Every request carries a fresh JPEG (one pixel changed), so no stage reuses a decoded image or an embedding; the
LLM cache is warmed first. Sizes are megapixels: scikit-image's astronaut resized to 4:3 (0.26 = the 512x512
original) with a little noise, so the JPEG (quality 90) is as large as a photograph's.

Per request (medians are printed):
- wire: request body bytes the gateway sent VE + VG + SAM (`gmner_stage_request_bytes_total`);
- stages: the sum of every stage's own request time (`gmner_request_latency_seconds_sum` from its /metrics:
  from its body being read to its answer: parsing, decoding, the model), NER and expansion included;
- gateway: the gateway's own request time (the same metric in this process);
- gw+transport = gateway - stages: the gateway's work plus moving the bodies between the processes;
  of it, gw own = gateway - the stage calls as the gateway timed them (`timings_ms`).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import socket
import statistics
import tempfile
import uuid
from pathlib import Path

import httpx
import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from gateway.serving import StageImage
from shared.images import encode_base64

TEXT = "Eileen Collins , Sally Ride and Mae Jemison smile for the camera"
STAGE_ROUTES = {
    "ner": "/v1/ner",
    "expansion": "/v1/expand",
    "ve": "/v1/entail",
    "vg": "/v1/ground",
    "sam": "/v1/segment",
}
VISUAL = ("ve", "vg", "sam")
MODES = ("json", "multipart")


class Base64StageImage(StageImage):
    """The image as base64 inside each stage call's JSON (`image_b64`), encoded once per request: the form the
    stages still accept, and what the gateway sent before multipart."""

    def __init__(self, data: bytes) -> None:
        self.part = None
        self._b64 = encode_base64(data)

    def body(self, params: BaseModel, json_model: type[BaseModel]) -> BaseModel:
        return json_model(image_b64=self._b64, **dict(params))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def photo(megapixels: float, seed: int = 0) -> np.ndarray:
    from skimage import data

    base = Image.fromarray(data.astronaut())
    if megapixels > 0.27:
        width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
        base = base.resize((width, width * 3 // 4), Image.Resampling.LANCZOS)
    pixels = np.asarray(base).astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, 3.0, pixels.shape)
    return (pixels + noise).clip(0, 255).astype(np.uint8)


def jpeg(pixels: np.ndarray, index: int) -> bytes:
    image = pixels.copy()
    # A 16x16 corner block per request: a single pixel can vanish in JPEG's quantisation and give the same bytes
    # (and content hash) again, which the stages' caches would answer without any work.
    image[:16, :16] = [index % 256, (index * 7) % 256, (index * 13 + 50) % 256]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def stage_seconds(client: httpx.Client, url: str, app: str, route: str) -> float:
    text = client.get(f"{url}/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "gmner_request_latency_seconds":
            for sample in family.samples:
                if sample.name.endswith("_sum") and sample.labels == {"app": app, "route": route}:
                    return sample.value
    return 0.0


def local(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def measure(stack_urls: dict[str, str], sizes: list[float], repeat: int) -> dict[tuple[float, str], list[dict]]:
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(
        log_json=False,
        log_level="WARNING",
        **{f"{stage}_url": url for stage, url in stack_urls.items()},
    )
    rows: dict[tuple[float, str], list[dict]] = {}
    counter = 0
    with TestClient(create_app(settings)) as gateway, httpx.Client(timeout=30) as scrape:
        serving = gateway.app.state.serving  # type: ignore[attr-defined]

        seen: set[str] = set()

        def one(image: bytes, mode: str) -> dict:
            digest = hashlib.sha256(image).hexdigest()
            if digest in seen:
                raise SystemExit("two requests had the same image bytes: the stages would answer from their caches")
            seen.add(digest)
            serving.stage_image = Base64StageImage if mode == "json" else StageImage
            stages_before = {s: stage_seconds(scrape, stack_urls[s], s, r) for s, r in STAGE_ROUTES.items()}
            sent_before = {s: local("gmner_stage_request_bytes_total", {"app": "gateway", "stage": s}) for s in VISUAL}
            gw_labels = {"app": "gateway", "route": "/v1/gmner"}
            gw_before = local("gmner_request_latency_seconds_sum", gw_labels)
            response = gateway.post("/v1/gmner", data={"text": TEXT}, files={"image": ("p.jpg", image, "image/jpeg")})
            response.raise_for_status()
            gateway_s = local("gmner_request_latency_seconds_sum", gw_labels) - gw_before
            stages = {s: stage_seconds(scrape, stack_urls[s], s, r) - stages_before[s] for s, r in STAGE_ROUTES.items()}
            body = response.json()
            wire = {
                s: local("gmner_stage_request_bytes_total", {"app": "gateway", "stage": s}) - sent_before[s]
                for s in VISUAL
            }
            stage_ms = sum(stages.values()) * 1000
            return {
                "image_bytes": len(image),
                "wire_bytes": sum(wire.values()),
                "visual_calls": sum(1 for s in VISUAL if wire[s] > 0),
                "masks": sum(1 for e in body["entities"] if e["mask"] is not None),
                "gateway_ms": gateway_s * 1000,
                "stages_ms": stage_ms,
                "visual_stages_ms": sum(stages[s] for s in VISUAL) * 1000,
                "gw_transport_ms": gateway_s * 1000 - stage_ms,
                "gw_own_ms": gateway_s * 1000 - sum(body["timings_ms"].values()),
                "degraded": body["degraded"],
                "stage_ms": {stage: seconds * 1000 for stage, seconds in stages.items()},
                "gateway_call_ms": body["timings_ms"],
                "wire": wire,
            }

        for size in sizes:
            pixels = photo(size)
            for _ in range(2):  # warm the LLM cache and every model
                for mode in MODES:
                    counter += 1
                    one(jpeg(pixels, counter), mode)
            for _ in range(repeat):
                for mode in MODES:  # alternating, so a load change hits both modes alike
                    counter += 1
                    rows.setdefault((size, mode), []).append(one(jpeg(pixels, counter), mode))
            h, w = pixels.shape[:2]
            print(f"measured {w}x{h} ({size} MP)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="0.26,2,8", help="megapixels, comma-separated")
    parser.add_argument("--json", type=Path, help="also write every row here")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]

    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack

    names = ("gateway", "ner", "expansion", "ve", "vg", "sam", "llm")
    settings = EmbeddedSettings(log_dir=Path(tempfile.mkdtemp()), **{f"{n}_port": free_port() for n in names})
    env = {"GMNER_LLM_CACHE_PREFIX": f"gmner:bench-data-path:{uuid.uuid4()}:"}
    with EmbeddedStack(settings, extra_env=env) as stack:
        rows = measure({s: stack.url(s) for s in STAGE_ROUTES}, sizes, args.repeat)

    if args.json:
        args.json.write_text(json.dumps({f"{k[0]}:{k[1]}": v for k, v in rows.items()}, indent=1))
    print(f"\nmedians of {args.repeat} requests per row ({TEXT!r}, 3 entities)")
    header = (
        f"{'MP':>5} {'mode':>9} {'JPEG KB':>8} {'wire KB':>8} {'calls':>5} {'masks':>5} {'gateway ms':>10} "
        f"{'stages ms':>9} {'visual ms':>9} {'gw+transp ms':>12} {'gw own ms':>9} {'share %':>7}"
    )
    print(header)
    for (size, mode), group in rows.items():

        def med(key: str, group: list[dict] = group) -> float:
            return statistics.median(row[key] for row in group)

        share = statistics.median(row["gw_transport_ms"] / row["stages_ms"] * 100 for row in group)
        print(
            f"{size:>5} {mode:>9} {med('image_bytes') / 1024:>8.0f} {med('wire_bytes') / 1024:>8.0f} "
            f"{med('visual_calls'):>5.0f} {med('masks'):>5.0f} {med('gateway_ms'):>10.1f} {med('stages_ms'):>9.1f} "
            f"{med('visual_stages_ms'):>9.1f} {med('gw_transport_ms'):>12.1f} {med('gw_own_ms'):>9.1f} {share:>7.2f}"
        )
        per_stage = ", ".join(
            f"{stage} {statistics.median(row['stage_ms'][stage] for row in group):.0f}"
            f"/{statistics.median(row['gateway_call_ms'].get(stage, 0.0) for row in group):.0f}"
            for stage in STAGE_ROUTES
        )
        print(f"      stage own / as the gateway timed it, ms: {per_stage}")
        degraded = sorted({d for row in group for d in row["degraded"]})
        if degraded:
            print(f"      degraded answers in this row: {degraded}")


if __name__ == "__main__":
    main()
