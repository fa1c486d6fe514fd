"""`gmner predict`: send one post to a running gateway; print a table (or JSON) and optionally save the overlay PNG."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from gmner.client import GMNERAPIError, GMNERClient, StreamEvent
    from shared.protocol.gateway import GMNEREntity, GMNERResponse

DEFAULT_URL = "http://127.0.0.1:8000"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="recognise the named entities of one post (text + optional image) with a running gateway",
        description="POST one post to {url}/v1/gmner and print its entities with type, referring expression, "
        "groundability, box and mask. Start the service first with `gmner serve`.",
    )
    parser.add_argument("--text", "-t", required=True, help="the post's text")
    parser.add_argument("--image", "-i", type=Path, help="the post's image (JPEG, PNG, WebP or GIF)")
    parser.add_argument("--caption", help="a caption of the image, used as extra context by NER")
    parser.add_argument(
        "--task",
        "--tasks",
        dest="tasks",
        choices=["mner", "gmner", "smner"],
        default="smner",
        help="mner: entities only; gmner: + groundability and boxes; smner: + masks (default)",
    )
    knowledge = parser.add_mutually_exclusive_group()
    knowledge.add_argument(
        "--use-knowledge", dest="use_knowledge", action="store_const", const=True, help="ask the LLM for knowledge"
    )
    knowledge.add_argument(
        "--no-knowledge", dest="use_knowledge", action="store_const", const=False, help="no LLM knowledge"
    )
    parser.add_argument("--out", "-o", type=Path, help="save the image with boxes, masks and labels drawn as PNG")
    parser.add_argument("--json", action="store_true", help="print the gateway's JSON answer instead of a table")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="show each stage's part of the answer as it comes (Server-Sent Events), then the answer; "
        "with --json, one JSON line per event",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("GMNER_URL", DEFAULT_URL),
        help=f"gateway base URL (default: $GMNER_URL or {DEFAULT_URL}, the one `gmner serve` starts)",
    )
    parser.add_argument(
        "--api-key", default=None, help="the gateway's API key, if it requires one (default: $GMNER_API_KEY)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer (default 120)")
    parser.add_argument("--retries", type=int, default=3, help="retries on 429/503, after Retry-After (default 3)")
    parser.set_defaults(func=run, use_knowledge=None)


def run(args: argparse.Namespace) -> int:
    from gmner.client import GMNERAPIError, GMNERClient

    if args.out is not None and args.image is None:
        print("gmner predict: --out needs --image (the overlay is drawn over it)", file=sys.stderr)
        return 2
    image: bytes | None = None
    if args.image is not None:
        try:
            image = args.image.read_bytes()
        except OSError as exc:
            print(f"gmner predict: cannot read {args.image}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    try:
        with GMNERClient(
            args.url, timeout_s=args.timeout, max_retries=max(0, args.retries), api_key=args.api_key
        ) as client:
            post = {
                "caption": args.caption,
                "tasks": args.tasks,
                "use_knowledge": args.use_knowledge,
                "image_name": args.image.name if args.image is not None else None,
            }
            if args.stream:
                answer = _stream(client, args.text, image, post, as_json=args.json)
            else:
                answer = client.predict(args.text, image, **post)
    except GMNERAPIError as exc:
        print(f"gmner predict: {_describe(exc)}", file=sys.stderr)
        return 1
    if answer is None:
        print("gmner predict: the stream ended without an answer", file=sys.stderr)
        return 1

    if args.json:
        if not args.stream:  # streamed, the answer was printed as the `final` line
            print(answer.model_dump_json(indent=2))
    else:
        _print_table(answer, _console())
    if args.out is not None and image is not None:
        # Drawn here from the answer, so the pipeline runs once (the gateway's /v1/gmner/overlay would run it again).
        from gateway.overlay import render_overlay_png

        try:
            args.out.write_bytes(render_overlay_png(image, answer.entities))
        except OSError as exc:
            print(f"gmner predict: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        # On stderr, so that `--json` output stays valid JSON.
        sys.stdout.flush()
        print(f"overlay saved to {args.out}", file=sys.stderr)
    return 0


def _stream(
    client: GMNERClient, text: str, image: bytes | None, post: dict[str, Any], *, as_json: bool
) -> GMNERResponse | None:
    """Print each stage event as it comes (a line, or a JSON line with `--json`); return the final answer."""
    answer = None
    for event in client.stream(text, image, **post):
        if as_json:
            print(_event_json(event), flush=True)
        elif event.answer is None:
            print(_event_line(event), flush=True)
        answer = event.answer or answer
    return answer


def _event_json(event: StreamEvent) -> str:
    import json

    if event.answer is not None:
        data: Any = event.answer.model_dump(mode="json")
    else:
        data = {"entities": [e.model_dump(mode="json") for e in event.entities]}
    return json.dumps({"event": event.event, "data": data}, ensure_ascii=False)


def _event_line(event: StreamEvent) -> str:
    """`boxes: #0 Eileen Collins [10, 4, 80, 120]`: what the stage added for each entity it changed."""
    parts = []
    for entity in event.entities:
        if event.event == "entities":
            detail = entity.type.value
        elif event.event == "expressions":
            detail = entity.expression or "(no expression)"
        elif event.event == "groundability":
            detail = _groundable(entity)
        elif event.event == "boxes":
            detail = _box(entity) if entity.box else "— (no region found)"
        else:
            detail = _mask(entity)
        if entity.degraded:
            detail += f" (degraded: {', '.join(entity.degraded)})"
        parts.append(f"#{entity.index} {entity.text}: {detail}")
    return f"{event.event}: " + ("; ".join(parts) if parts else "none")


def _describe(exc: GMNERAPIError) -> str:
    if exc.status == 0:
        return exc.message
    if exc.status in (401, 403):
        return f"the gateway answered {exc.status} {exc.code}: {exc.message} (pass --api-key or set $GMNER_API_KEY)"
    where = f" [{exc.stage}]" if exc.stage else ""
    return f"the gateway answered {exc.status} {exc.code}{where}: {exc.message}"


def _console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False)


def _print_table(answer: GMNERResponse, console: Console) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    if not answer.entities:
        console.print("No named entity found.")
    else:
        count = len(answer.entities)
        table = Table(
            title=f"{count} entit{'y' if count == 1 else 'ies'} · task {answer.tasks.value}",
            title_justify="left",
            caption=escape("box: [x1, y1, x2, y2] in pixels, score · mask: area in pixels, score"),
            caption_justify="left",
            box=box.SIMPLE_HEAD,
        )
        # Narrow terminals fold the long cells; the expression keeps room to be read.
        table.add_column("#", no_wrap=True)
        table.add_column("entity", overflow="fold")
        table.add_column("type", no_wrap=True, min_width=4)
        table.add_column("expression", min_width=16, max_width=60, overflow="fold")
        for name in ("groundable", "box", "mask"):
            table.add_column(name, overflow="fold")
        table.add_column("degraded", style="yellow", overflow="fold")
        for index, entity in enumerate(answer.entities):
            cells = (
                str(index),
                entity.text,
                entity.type.value,
                entity.expression or "—",
                _groundable(entity),
                _box(entity),
                _mask(entity),
                ", ".join(entity.degraded) or "—",
            )
            # Text, not markup: an entity such as "[NASA]" must print as it is.
            table.add_row(*(Text(cell) for cell in cells))
        console.print(table)
    footer = [f"request {escape(answer.request_id)}"] if answer.request_id else []
    if answer.degraded:
        footer.append(f"[yellow]degraded: {escape(', '.join(answer.degraded))}[/yellow]")
    if answer.timings_ms:
        footer.append(" ".join(f"{stage} {ms:.0f} ms" for stage, ms in answer.timings_ms.items()))
    if footer:
        console.print(" · ".join(footer), highlight=False)


def _groundable(entity: GMNEREntity) -> str:
    if entity.groundable is None:
        return f"— ({entity.visual_reason.value.replace('_', ' ')})" if entity.visual_reason else "—"
    text = "yes" if entity.groundable else "no"
    if entity.groundable_score is not None:
        text += f" {entity.groundable_score:.2f}"
    return text


def _box(entity: GMNEREntity) -> str:
    if entity.box is None:
        return "—"
    text = "[" + ", ".join(f"{v:.0f}" for v in entity.box) + "]"
    if entity.box_score is not None:
        text += f" {entity.box_score:.2f}"
    return text


def _mask(entity: GMNEREntity) -> str:
    if entity.mask is None:
        return "—"
    from pycocotools import mask as mask_utils

    area = int(mask_utils.area({"size": entity.mask.size, "counts": entity.mask.counts.encode("ascii")}))
    text = f"{area} px"
    if entity.mask_score is not None:
        text += f" {entity.mask_score:.2f}"
    return text
