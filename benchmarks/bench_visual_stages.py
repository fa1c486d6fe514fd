"""VE and VG latency of the embedded `faces` backends on this machine.

    .venv/bin/python benchmarks/bench_visual_stages.py                    # astronaut (a person), coffee (none)
    .venv/bin/python benchmarks/bench_visual_stages.py --image ../shared/data/images/16_05_01_127.jpg
    .venv/bin/python benchmarks/bench_visual_stages.py --repeat 30 --threads 2

Request latencies go through the real apps in-process (FastAPI TestClient: JSON, base64, decoding, the
detector in a worker thread). "new image" requests carry new bytes each time (one pixel changed, so a new
SHA-256): the detector runs, as for a real post. "same image" requests hit the per-image detection LRU.
"detector" is `PersonDetector.detect_pil` alone. Prints numbers; not a test.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from services.ve.app import create_app as create_ve
from services.ve.settings import VESettings
from services.vg.app import create_app as create_vg
from services.vg.settings import VGSettings

EXPRESSIONS = [
    {"entity": "Eileen Collins", "type": "PER", "expression": "Eileen Collins (PER) – an American astronaut"},
    {"entity": "NASA", "type": "ORG", "expression": "NASA (ORG) – the US space agency"},
]


def images(extra: list[str]) -> dict[str, Image.Image]:
    from skimage import data

    out = {
        "astronaut 512x512 (person)": Image.fromarray(data.astronaut()).convert("RGB"),
        "coffee 600x400 (no person)": Image.fromarray(data.coffee()).convert("RGB"),
    }
    for path in extra:
        image = Image.open(path).convert("RGB")
        out[f"{Path(path).name} {image.width}x{image.height}"] = image
    return out


def variant(image: Image.Image, i: int) -> str:
    """The image as PNG with one pixel changed, base64: new bytes, new SHA-256, same content."""
    copy = image.copy()
    copy.putpixel((i % image.width, 0), (i % 256, 0, 0))
    buffer = io.BytesIO()
    copy.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def timed(fn: Callable[[int], object], repeat: int, warmup: int = 2) -> list[float]:
    for i in range(warmup):
        fn(-1 - i)
    out = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   (n={len(ms)})"


def post(client: TestClient, path: str, image_b64: str) -> dict:
    response = client.post(path, json={"image_b64": image_b64, "expressions": EXPRESSIONS})
    response.raise_for_status()
    return response.json()


def bench_image(name: str, image: Image.Image, ve: TestClient, vg: TestClient, repeat: int) -> None:
    detector = ve.app.state.serving.backend.detector
    same = variant(image, 10_000)
    # Encoded before timing: the PNG encoder is not part of a stage's latency.
    new = [variant(image, i) for i in range(-2, repeat)]
    first_ve = post(ve, "/v1/entail", same)["results"][0]
    first_vg = post(vg, "/v1/ground", same)["results"][0]
    print(f"{name}: PER groundable={first_ve['groundable']} score={first_ve['score']} box={first_vg['box']}")
    rows = {
        "detector (MTCNN) alone": timed(lambda i: detector.detect_pil(image), repeat),
        "VE /v1/entail, new image": timed(lambda i: post(ve, "/v1/entail", new[i + 2]), repeat),
        "VG /v1/ground, new image": timed(lambda i: post(vg, "/v1/ground", new[i + 2]), repeat),
        "VE /v1/entail, same image": timed(lambda i: post(ve, "/v1/entail", same), repeat),
        "VG /v1/ground, same image": timed(lambda i: post(vg, "/v1/ground", same), repeat),
    }
    for label, ms in rows.items():
        print(f"  {label:28s} {summary(ms)}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", action="append", default=[], help="another image to time (repeatable)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; repeat {args.repeat}")

    started = time.perf_counter()
    with (
        TestClient(create_ve(VESettings(backend="faces", log_level="WARNING", log_json=False))) as ve,
        TestClient(create_vg(VGSettings(backend="faces", log_level="WARNING", log_json=False))) as vg,
    ):
        print(f"both apps started (MTCNN loaded twice) in {time.perf_counter() - started:.1f} s\n")
        for name, image in images(args.image).items():
            bench_image(name, image, ve, vg, args.repeat)


if __name__ == "__main__":
    main()
