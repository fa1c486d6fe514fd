"""End-to-end SMNER latency for 1-, 3- and 6-entity posts, with SAM's embedding reuse on and off.

    python benchmarks/bench_smner.py [--repeat 3] [--image photo.jpg]

Starts the whole embedded stack twice on free ports: as it is, then with SAM encoding the image once per box
(benchmarks/sam_per_box.py, put in the SAM process through PYTHONPATH). Each post
is sent with a fresh copy of the image (one pixel changed) so SAM cannot reuse an embedding across requests,
only across the boxes of one request. LLM outputs are warmed first, so the numbers are the visual path plus
cached text stages. Prints milliseconds; nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

POSTS = {
    1: "Astronaut Eileen Collins waves before the launch",
    3: "Eileen Collins , Sally Ride and Mae Jemison smile for the camera",
    6: "Eileen Collins , Sally Ride , Mae Jemison , Neil Armstrong , Buzz Aldrin and John Glenn at the reunion",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def variant(base: np.ndarray, index: int) -> bytes:
    image = base.copy()
    image[0, 0] = [index % 256, (index // 256) % 256, 7]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def measure(url: str, base: np.ndarray, repeat: int, counter: list[int]) -> dict[int, dict[str, float]]:
    results: dict[int, dict[str, float]] = {}
    with httpx.Client(timeout=600) as client:
        for text in POSTS.values():  # warm the LLM cache and the models
            counter[0] += 1
            client.post(f"{url}/v1/gmner", data={"text": text}, files={"image": ("w.png", variant(base, counter[0]))})
        for n, text in POSTS.items():
            totals, sams, grounded = [], [], []
            for _ in range(repeat):
                counter[0] += 1
                started = time.perf_counter()
                response = client.post(
                    f"{url}/v1/gmner", data={"text": text}, files={"image": ("p.png", variant(base, counter[0]))}
                )
                totals.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                body = response.json()
                sams.append(body["timings_ms"].get("sam", 0.0))
                grounded.append(sum(1 for e in body["entities"] if e["mask"] is not None))
            results[n] = {
                "total_ms": statistics.median(totals),
                "sam_ms": statistics.median(sams),
                "masks": statistics.median(grounded),
            }
    return results


def run_stack(reuse: bool, base: np.ndarray, repeat: int, counter: list[int]) -> dict[int, dict[str, float]]:
    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack

    names = ("gateway", "ner", "expansion", "ve", "vg", "sam", "llm")
    settings = EmbeddedSettings(log_dir=Path(tempfile.mkdtemp()), **{f"{n}_port": free_port() for n in names})
    env = {"GMNER_LLM_CACHE_PREFIX": f"gmner:bench:{uuid.uuid4()}:"}
    if not reuse:
        repo = Path(__file__).resolve().parents[1]
        site = repo / "benchmarks" / "sam_per_box_site"
        env["PYTHONPATH"] = os.pathsep.join([str(site), str(repo), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with EmbeddedStack(settings, extra_env=env) as stack:
        return measure(stack.gateway_url, base, repeat, counter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--image", type=Path, help="default: scikit-image's astronaut")
    args = parser.parse_args()
    if args.image:
        base = np.asarray(Image.open(args.image).convert("RGB"))
    else:
        from skimage import data

        base = data.astronaut()
    counter = [0]
    on = run_stack(True, base, args.repeat, counter)
    off = run_stack(False, base, args.repeat, counter)
    print(f"\nSMNER end to end, median of {args.repeat} (image {base.shape[1]}x{base.shape[0]})")
    print(
        f"{'entities':>8} {'masks':>6} {'total reuse on':>15} {'sam on':>8} {'total reuse off':>16} {'sam off':>8} "
        f"{'sam off/on':>10}"
    )
    for n in POSTS:
        a, b = on[n], off[n]
        ratio = b["sam_ms"] / a["sam_ms"] if a["sam_ms"] else float("nan")
        print(
            f"{n:>8} {a['masks']:>6.0f} {a['total_ms']:>15.0f} {a['sam_ms']:>8.0f} {b['total_ms']:>16.0f} "
            f"{b['sam_ms']:>8.0f} {ratio:>10.2f}"
        )


if __name__ == "__main__":
    main()
