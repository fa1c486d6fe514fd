"""SAM stage latency on this machine: encode, decode per box, and 1/3/6-box requests with embedding reuse on/off.

    .venv/bin/python benchmarks/bench_sam.py                      # bundled LiteMedSAM, scikit-image astronaut
    .venv/bin/python benchmarks/bench_sam.py --image ../shared/data/images/16_05_01_127.jpg
    .venv/bin/python benchmarks/bench_sam.py --backend sam --checkpoint sam_vit_b_01ec64.pth --model-type vit_b

Request latencies go through the real app in-process (FastAPI TestClient: JSON, base64, validation, RLE), and
every request carries new image bytes, so "reuse on" is one encode per post (a cold cache), as for real posts.
Prints numbers; not a test.
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

from benchmarks.sam_per_box import PerBoxPredictor
from services.sam.app import create_app
from services.sam.backends import load_backend
from services.sam.backends.predictor import PredictorBackend
from services.sam.settings import SamSettings
from shared.images import DecodedImage, decode_image
from shared.settings import ImageLimits


def load_image(path: str | None) -> Image.Image:
    if path:
        return Image.open(path).convert("RGB")
    from skimage import data

    return Image.fromarray(data.astronaut())


def boxes_for(image: Image.Image, n: int) -> list[list[float]]:
    """n boxes on a grid over the image (their content does not change SAM's cost)."""
    w, h = image.size
    out = []
    for i in range(n):
        cx, cy = (i % 3 + 0.5) / 3 * w, (i // 3 % 2 + 0.5) / 2 * h
        out.append([cx - w / 6, cy - h / 4, cx + w / 6, cy + h / 4])
    return out


def variant(image: Image.Image, i: int) -> bytes:
    """The image as JPEG with one pixel changed, so each request has new bytes (a new SHA-256)."""
    copy = image.copy()
    copy.putpixel((i % image.width, 0), (i % 256, 0, 0))
    buf = io.BytesIO()
    copy.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm-up (allocator, lazy inits)
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def fmt(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"median {statistics.median(ms):8.1f} ms  (min {min(ms):.1f}, max {max(ms):.1f}, n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="litemedsam", choices=["litemedsam", "sam"])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--model-type", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--image", default=None, help="an image file; default: scikit-image's astronaut (512x512)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--requests-only", action="store_true", help="skip the encode / decode parts")
    args = parser.parse_args()

    settings = SamSettings(
        backend=args.backend,
        checkpoint=args.checkpoint,
        model_type=args.model_type,
        device=args.device,
        torch_threads=args.threads,
        log_level="WARNING",
        log_json=False,
    )
    started = time.perf_counter()
    backend = load_backend(settings)
    print(f"backend {backend.name} on {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"model load: {(time.perf_counter() - started) * 1000:.0f} ms")

    image = load_image(args.image)
    print(f"image: {args.image or 'skimage astronaut'} {image.width}x{image.height}")
    decoded: DecodedImage = decode_image(variant(image, 0), ImageLimits())

    if args.requests_only:
        return requests(settings, backend, image, args.repeats)
    # Stage parts, straight on the backend (under inference mode, as its `forward` runs them).
    with torch.inference_mode():
        encode = timed(lambda: backend.encode_image(decoded), args.repeats)
        embedding = backend.encode_image(decoded)
        print(f"encode (resize, normalise, image encoder): {fmt(encode)}")
        for n in (1, 6):
            box_t = torch.tensor(boxes_for(image, n), dtype=torch.float32, device=backend.device)
            dec = timed(lambda box_t=box_t: backend.decode(embedding, box_t), args.repeats)
            print(f"decode {n} box(es) in one batched call, per box: {fmt([s / n for s in dec])}")
            low_res, _ = backend.decode(embedding, box_t)
            up = timed(
                lambda low_res=low_res: backend.upsample(low_res, embedding.input_size, embedding.original_size),
                args.repeats,
            )
            print(f"upsample + threshold {n} mask(s), per box: {fmt([s / n for s in up])}")

    requests(settings, backend, image, args.repeats)


def requests(settings: SamSettings, backend: PredictorBackend, image: Image.Image, repeats: int) -> None:
    """Whole requests through the app, reuse on vs off"""
    # Whole requests through the app, reuse on vs off, each post with new image bytes. On and off alternate
    # within each repeat, so a change in the machine's load hits both alike.
    model = backend.model
    counter = iter(range(1, 1_000_000))
    clients = {}
    for reuse in (True, False):
        # Reuse off: benchmarks/sam_per_box.py, the serving backend encoding the image once per box.
        app_backend = (PredictorBackend if reuse else PerBoxPredictor).from_settings(model, backend.name, settings)
        clients[reuse] = TestClient(create_app(settings, backend=app_backend)).__enter__()
    # Wall time and this process's CPU time (every thread: client, app, model): on a machine shared with
    # other jobs the CPU time moves much less than the wall time.
    wall: dict[tuple[bool, int], list[float]] = {(r, n): [] for r in (True, False) for n in (1, 3, 6)}
    cpu: dict[tuple[bool, int], list[float]] = {(r, n): [] for r in (True, False) for n in (1, 3, 6)}
    for round_ in range(repeats + 1):  # round 0 warms up
        for n in (1, 3, 6):
            for reuse in (True, False):
                # Bodies are made before timing: JPEG-encoding the variants is the client's cost, not ours.
                body = {
                    "image_b64": base64.b64encode(variant(image, next(counter))).decode(),
                    "boxes": boxes_for(image, n),
                }
                started, started_cpu = time.perf_counter(), time.process_time()
                clients[reuse].post("/v1/segment", json=body).raise_for_status()
                if round_:
                    wall[(reuse, n)].append(time.perf_counter() - started)
                    cpu[(reuse, n)].append(time.process_time() - started_cpu)
    print(f"\nper request, median of {repeats}: reuse on / reuse off / off over on")
    for label, samples in (("wall", wall), ("cpu", cpu)):
        for n in (1, 3, 6):
            on, off = statistics.median(samples[(True, n)]), statistics.median(samples[(False, n)])
            ratios = sorted(b / a for a, b in zip(samples[(True, n)], samples[(False, n)], strict=True))
            print(
                f"{label:>4} {n} box(es): {on * 1000:8.0f} ms / {off * 1000:8.0f} ms / {off / on:5.2f}x "
                f"(per-round ratios {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    for client in clients.values():
        client.__exit__(None, None, None)


if __name__ == "__main__":
    main()
