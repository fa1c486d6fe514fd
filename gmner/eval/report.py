"""Rendering an `EvalResult`: terminal tables (rich when installed, plain text otherwise), JSON, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

from gmner.eval.metrics import TYPE_NOTE, EvalResult

T = TypeVar("T")


def progress_factory(enabled: bool = True) -> Callable[..., Iterable[Any]]:
    """A `progress(items, total=, desc=)` wrapper: tqdm on stderr when installed and stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return _plain
    try:
        from tqdm import tqdm
    except ImportError:
        return _plain

    def bar(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
        yield from tqdm(items, total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)

    return bar


def _plain(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    return items


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def table_rows(result: EvalResult) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The tables to show, as `{title: (header, rows)}`; P/R/F1 in percent."""
    header = ["metric", "P", "R", "F1", "TP", "pred", "gold"]
    main = [
        [name, _pct(m.precision), _pct(m.recall), _pct(m.f1), str(m.tp), str(m.pred), str(m.gold)]
        for name, m in result.metrics.items()
    ]
    tables: dict[str, tuple[list[str], list[list[str]]]] = {f"Scores (region: {result.iou_rule})": (header, main)}
    per_rows = [
        [f"{name} {t}", _pct(m.precision), _pct(m.recall), _pct(m.f1), str(m.tp), str(m.pred), str(m.gold)]
        for name, per in result.per_type.items()
        for t, m in per.items()
    ]
    if per_rows:
        tables[f"Per type ({TYPE_NOTE})"] = (header, per_rows)
    if result.sweep:
        # One row per threshold and one F1 column per region metric, so it fits an 80-column terminal.
        names = list(result.sweep)
        thresholds = [thr for thr, _ in result.sweep[names[0]]]
        sweep_rows = [
            [f"{thr:.2f}", *(_pct(result.sweep[name][i][1].f1) for name in names)] for i, thr in enumerate(thresholds)
        ]
        tables["F1 by IoU threshold"] = (["IoU >" if result.strict else "IoU >=", *names], sweep_rows)
    return tables


def render_plain(result: EvalResult) -> str:
    out: list[str] = []
    for title, (header, rows) in table_rows(result).items():
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        out.append(title)
        fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
        out.append(fmt.format(*header))
        out.append("  ".join("-" * w for w in widths))
        out.extend(fmt.format(*r) for r in rows)
        out.append("")
    return "\n".join(out)


def print_tables(result: EvalResult, file: TextIO | None = None) -> None:
    """Print the tables with rich when it is installed, else as plain text."""
    file = file if file is not None else sys.stdout
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(render_plain(result), file=file)
        return
    console = Console(file=file)
    for title, (header, rows) in table_rows(result).items():
        table = Table(title=title, title_justify="left")
        for i, col in enumerate(header):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
