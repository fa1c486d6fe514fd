"""The documentation's reference pages, generated from the code so that nothing is written twice.

- configuration: every environment variable of the pydantic-settings classes (type, default, description);
- cli: every `gmner` command and option, from its argparse parsers;
- errors: the HTTP status of each kind of error (`shared.errors.HTTP_STATUS`) and the codes the code raises;
- api: the gateway's OpenAPI document, rendered as Markdown (the app is built, not started: no model loads).

`scripts/mkdocs_hooks.py` puts them into the site at build time (`mkdocs build`, `mkdocs serve`);
`python scripts/gen_docs_reference.py --out DIR` writes them as files. `tests/docs` checks that every settings
field has a description (`undocumented_fields`).
"""

from __future__ import annotations

import argparse
import ast
import enum
import json
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
# The packages whose raise sites give the error codes.
ERROR_SOURCES = ("shared", "engines", "services", "gateway", "gmner")


# --- configuration -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsSection:
    """One table of the configuration reference: the fields of `cls` under `prefix`."""

    title: str
    cls: type[BaseModel]
    prefix: str
    # Fields declared in this class (and the overrides of a base's); None: every field.
    own_only: bool = False
    note: str = ""

    @property
    def nested_delimiter(self) -> str | None:
        # Nested model fields are read as `<prefix><FIELD>__<SUB>`; without the delimiter only as one JSON value.
        delimiter = self.cls.model_config.get("env_nested_delimiter")
        return str(delimiter) if delimiter else None


def settings_sections() -> list[SettingsSection]:
    """Every settings class, in the order a reader meets them. A new settings class belongs here
    (`tests/docs` fails on a BaseSettings subclass that is missing)."""
    from gateway.settings import GatewaySettings
    from gmner.embedded.settings import EmbeddedSettings
    from services.expansion.settings import ExpansionSettings
    from services.ner.settings import NERSettings
    from services.sam.settings import SamSettings
    from services.ve.settings import VESettings
    from services.vg.settings import VGSettings
    from services.visual.settings import VisualStageSettings
    from shared.limits import TextLimits
    from shared.settings import AppSettings, ImageLimits, LLMSettings

    return [
        SettingsSection(
            "Every app",
            AppSettings,
            "GMNER_<APP>_",
            note=(
                "`<APP>` is `NER`, `EXPANSION`, `VE`, `VG`, `SAM` or `GATEWAY`: e.g. `GMNER_NER_MAX_INFLIGHT`. "
                "Each app's own default port and the gateway's `MAX_BODY_BYTES` are in its section below."
            ),
        ),
        SettingsSection("Text limit", TextLimits, "GMNER_", note="One value for every app (see Configuration)."),
        SettingsSection("Images", ImageLimits, "GMNER_IMAGE_", note="Every app that decodes images."),
        SettingsSection("LLM client", LLMSettings, "GMNER_LLM_", note="The NER (knowledge step) and expansion apps."),
        SettingsSection("NER", NERSettings, "GMNER_NER_", own_only=True),
        SettingsSection("Expansion", ExpansionSettings, "GMNER_EXPANSION_", own_only=True),
        SettingsSection(
            "VE and VG",
            VisualStageSettings,
            "GMNER_{VE,VG}_",
            own_only=True,
            note="Read by both visual stages, each under its own prefix: `GMNER_VE_DEVICE`, `GMNER_VG_DEVICE`.",
        ),
        SettingsSection("Visual entailment (VE)", VESettings, "GMNER_VE_", own_only=True),
        SettingsSection("Visual grounding (VG)", VGSettings, "GMNER_VG_", own_only=True),
        SettingsSection("SAM", SamSettings, "GMNER_SAM_", own_only=True),
        SettingsSection("Gateway", GatewaySettings, "GMNER_GATEWAY_", own_only=True),
        SettingsSection(
            "Embedded runner (gmner serve)",
            EmbeddedSettings,
            "GMNER_EMBEDDED_",
            note="`gmner serve`'s options set the same values (see the command-line reference).",
        ),
    ]


@dataclass
class SettingsRow:
    variable: str
    type: str
    default: str
    description: str | None
    owner: str  # `module.Class.field`, for the test's message
    # Whether the field itself has a description (a nested model's row adds text of its own).
    documented: bool = True


@dataclass
class SettingsTable:
    title: str
    note: str
    doc: str
    rows: list[SettingsRow] = field(default_factory=list)


def _own_field_names(cls: type[BaseModel]) -> set[str]:
    # `__annotations__` of the class itself: its own fields and the ones it redeclares (e.g. `port`).
    return set(vars(cls).get("__annotations__", {}))


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _nested_model(info: FieldInfo) -> type[BaseModel] | None:
    tp = info.annotation
    return tp if _is_model(tp) else None


def settings_tables() -> list[SettingsTable]:
    tables: list[SettingsTable] = []
    sections = settings_sections()
    titles = {s.cls: s.title for s in sections}
    for section in sections:
        names = _own_field_names(section.cls) if section.own_only else set(section.cls.model_fields)
        table = SettingsTable(section.title, section.note, _doc(section.cls))
        nested: list[SettingsTable] = []
        for name, info in section.cls.model_fields.items():
            if name not in names:
                continue
            owner = f"{section.cls.__module__}.{section.cls.__qualname__}.{name}"
            variable = f"{section.prefix}{name.upper()}"
            model = _nested_model(info)
            if model is not None and issubclass(model, BaseSettings):
                # A settings class of its own (ImageLimits): its defaults come from its own prefix.
                own_prefix = str(model.model_config.get("env_prefix", ""))
                how = f"`{variable}__<FIELD>` or" if section.nested_delimiter else f"`{variable}` (JSON object) or"
                table.rows.append(
                    SettingsRow(
                        f"`{variable}`",
                        f"{model.__name__}",
                        f"from `{own_prefix}*`",
                        _join(
                            info.description,
                            f"Set with {how} `{own_prefix}<FIELD>` (\u201c{titles.get(model, model.__name__)}\u201d).",
                        ),
                        owner,
                        documented=bool(info.description),
                    )
                )
                continue
            if model is not None:
                if section.nested_delimiter:
                    sub = SettingsSection(f"{section.title}: {name}", model, f"{variable}{section.nested_delimiter}")
                    sub_table = _table_of(sub)
                    sub_table.note = _join(info.description, sub_table.note) or ""
                    nested.append(sub_table)
                    table.rows.append(
                        SettingsRow(
                            f"`{variable}{section.nested_delimiter}*`",
                            model.__name__,
                            "see below",
                            _join(info.description, f"Fields in \u201c{sub.title}\u201d below."),
                            owner,
                            documented=bool(info.description),
                        )
                    )
                    continue
                # No delimiter: the whole model is one JSON value.
                default = json.dumps(_plain(model().model_dump(mode="json")))
                table.rows.append(
                    SettingsRow(f"`{variable}`", f"{model.__name__} (JSON)", f"`{default}`", info.description, owner)
                )
                continue
            table.rows.append(_row(variable, info, owner))
        tables.append(table)
        tables.extend(nested)
    return tables


def _table_of(section: SettingsSection) -> SettingsTable:
    table = SettingsTable(section.title, section.note, _doc(section.cls))
    for name, info in section.cls.model_fields.items():
        owner = f"{section.cls.__module__}.{section.cls.__qualname__}.{name}"
        table.rows.append(_row(f"{section.prefix}{name.upper()}", info, owner))
    return table


def _row(variable: str, info: FieldInfo, owner: str) -> SettingsRow:
    return SettingsRow(f"`{variable}`", _type_text(info), _default_text(info), info.description, owner)


def _join(*parts: str | None) -> str | None:
    kept = [p.strip() for p in parts if p and p.strip()]
    return " ".join(kept) if kept else None


def _doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    # pydantic gives models without a docstring BaseModel's own: not ours to show.
    if doc in (BaseModel.__doc__, BaseSettings.__doc__):
        return ""
    return " ".join(doc.split())


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a.value if isinstance(a, enum.Enum) else a}`" for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple, dict, set):
        args = ", ".join(_type_name(a) for a in typing.get_args(tp) if a is not Ellipsis)
        return f"{origin.__name__}[{args}] (JSON)" if args else f"{origin.__name__} (JSON)"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in tp)
    if isinstance(tp, type):
        return {"Path": "path", "str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            tp.__name__, tp.__name__
        )
    return str(tp).replace("typing.", "")


def _type_text(info: FieldInfo) -> str:
    text = _type_name(info.annotation)
    # Inside a dict[...] or list[...] the enum's values would be a mouthful: name the values instead.
    text = text.replace("(JSON) (JSON)", "(JSON)")
    bounds = []
    for meta in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{sign} {value}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            bounds.append(f"matches `{pattern}`")
    return f"{text}, {', '.join(bounds)}" if bounds else text


def _default_text(info: FieldInfo) -> str:
    factory = info.default_factory
    if factory is not None:
        if _is_model(factory):
            return "see below"
        code = getattr(factory, "__code__", None)
        if code is not None and "cpu_count" in code.co_names:
            return "depends on the machine"
        value = factory()
    else:
        value = info.default
    return _value_text(value)


def _value_text(value: Any) -> str:
    if value is None:
        return "null (unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, (dict, list, tuple)):
        return f"`{json.dumps(_plain(value))}`"
    if isinstance(value, int) and value >= 1024 * 1024 and value % (1024 * 1024) == 0:
        return f"`{value}` ({value // (1024 * 1024)} MiB)"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        # Paths computed at import: the reader's home and checkout, not this machine's.
        value = value.replace(str(REPO_ROOT), "<repo>").replace(str(REPO_ROOT.parent), "<repo>/..")
        value = value.replace(str(Path.home()), "~")
        return f"`{value}`" if value else '`""` (empty)'
    return f"`{value}`"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k.value if isinstance(k, enum.Enum) else k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def undocumented_fields() -> list[str]:
    """`module.Class.field` of every settings field (nested ones included) without a description."""
    return [row.owner for table in settings_tables() for row in table.rows if not (row.documented and row.description)]


def _cell(text: str) -> str:
    """`text` for a Markdown table cell: one line, pipes escaped except inside code spans (where they are safe)."""
    parts = " ".join(text.split()).split("`")
    # Even parts are outside backticks.
    return "`".join(re.sub(r"(?<!\\)\|", r"\\|", p) if i % 2 == 0 else p for i, p in enumerate(parts))


def settings_markdown() -> str:
    out: list[str] = []
    for table in settings_tables():
        out.append(f"## {table.title}\n")
        for text in (table.doc, table.note):
            if text:
                out.append(f"{text}\n")
        out.append("| variable | type | default | description |\n|---|---|---|---|")
        for row in table.rows:
            description = _cell(row.description or "") if row.documented and row.description else "**undocumented**"
            out.append(f"| {row.variable} | {row.type} | {_cell(row.default)} | {description} |")
        out.append("")
    return "\n".join(out)


# --- command line --------------------------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def cli_markdown() -> str:
    from gmner.cli import build_parser

    # argparse wraps usage lines at the terminal's width: fix it, so the page is the same on every machine.
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        out: list[str] = []
        parser = build_parser()
        if parser.description:
            out.append(f"{parser.description}\n")
        for name, sub in _subcommands(parser):
            _cli_section(out, f"gmner {name}", sub, level=2)
        return "\n".join(out)
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def _cli_section(out: list[str], title: str, parser: argparse.ArgumentParser, level: int) -> None:
    out.append(f"{'#' * level} {title}\n")
    if parser.description:
        out.append(f"{' '.join(parser.description.split())}\n")
    out.append("```text\n" + parser.format_usage().strip() + "\n```\n")
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
        if action.option_strings and action.nargs != 0:
            names += f" `{action.metavar or action.dest.upper()}`"
        help_text = " ".join(formatter._expand_help(action).split()) if action.help else ""
        if action.choices and not isinstance(action.choices, dict):
            choices = "one of " + ", ".join(f"`{c}`" for c in action.choices)
            help_text = f"{help_text}; {choices}" if help_text else choices.capitalize()
        default = ""
        if action.option_strings and action.nargs != 0 and action.default not in (None, argparse.SUPPRESS):
            default = _cell(_value_text(action.default))
        rows.append(f"| {names} | {default} | {_cell(help_text)} |")
    if rows:
        out.append("| argument | default | meaning |\n|---|---|---|")
        out.extend(rows)
        out.append("")
    for name, sub in _subcommands(parser):
        _cli_section(out, f"{title} {name}", sub, level=min(level + 1, 4))


# --- error codes ---------------------------------------------------------------------------------------------------


@dataclass
class ErrorCode:
    code: str
    status: int
    kinds: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)


def error_codes(root: Path = REPO_ROOT) -> list[ErrorCode]:
    """Every code raised with a literal string: `SomeDomainError("code", ...)` or `APIError(status, "code", ...)`."""
    from shared.errors import APIError, DomainError, http_status

    kinds: dict[str, type[APIError]] = {"APIError": APIError}
    stack: list[type[APIError]] = [DomainError]
    while stack:
        cls = stack.pop()
        kinds[cls.__name__] = cls
        stack.extend(cls.__subclasses__())
    found: dict[tuple[str, int], ErrorCode] = {}
    for package in ERROR_SOURCES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                cls = kinds.get(name or "")
                if cls is None:
                    continue
                if cls is APIError:
                    status_node, code_node = [*node.args, None, None][:2]
                    if not (isinstance(status_node, ast.Constant) and isinstance(status_node.value, int)):
                        continue
                    status, kind = status_node.value, "APIError"
                else:
                    if not issubclass(cls, DomainError) or cls is DomainError:
                        continue
                    code_node = node.args[0] if node.args else None
                    status, kind = http_status(cls), cls.__name__  # type: ignore[arg-type]
                for keyword in node.keywords:
                    if keyword.arg == "code":
                        code_node = keyword.value
                if not (isinstance(code_node, ast.Constant) and isinstance(code_node.value, str)):
                    continue
                entry = found.setdefault((code_node.value, status), ErrorCode(code_node.value, status))
                entry.kinds.add(kind)
                entry.places.add(str(path.relative_to(root).with_suffix("")).replace("/", "."))
    return sorted(found.values(), key=lambda e: (e.status, e.code))


def errors_markdown() -> str:
    from shared.errors import HTTP_STATUS, DomainError, http_status

    out = ["## Kinds of error and their status\n", "| kind | status | when |\n|---|---|---|"]
    listed: list[type[DomainError]] = []
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        cls = stack.pop(0)
        if cls is not DomainError:
            listed.append(cls)
        stack.extend(sorted(cls.__subclasses__(), key=lambda c: c.__name__))
    for cls in sorted(listed, key=lambda c: (http_status(c), c.__name__)):
        inherited = "" if cls in HTTP_STATUS else " (as its base)"
        out.append(f"| `{cls.__name__}` | {http_status(cls)}{inherited} | {_cell(_doc(cls))} |")
    out.append("")
    out.append("## Codes\n")
    out.append(
        "Raised with a literal code in `shared`, `engines`, `services`, `gateway` or `gmner`. FastAPI's own errors "
        "answer `not_found` (404), `method_not_allowed` (405) and `http_<status>` for any other status; a stage's 4xx "
        "relayed by the gateway keeps the stage's code.\n"
    )
    out.append("| code | status | kind | raised in |\n|---|---|---|---|")
    for entry in error_codes():
        places = ", ".join(f"`{p}`" for p in sorted(entry.places))
        kinds = ", ".join(f"`{k}`" for k in sorted(entry.kinds))
        out.append(f"| `{entry.code}` | {entry.status} | {kinds} | {places} |")
    out.append("")
    return "\n".join(out)


# --- HTTP API ------------------------------------------------------------------------------------------------------


def gateway_openapi() -> dict[str, Any]:
    """The gateway's OpenAPI document. Building the app loads nothing: stage clients and models are made in its
    lifespan, which is never entered here."""
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    document: dict[str, Any] = create_app(GatewaySettings()).openapi()
    return document


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return resolved
    return node


def _schema_type(node: dict[str, Any]) -> str:
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[1]
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in node or "oneOf" in node:
        return " \\| ".join(_schema_type(n) for n in node.get("anyOf", node.get("oneOf", [])))
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "any")
    if kind == "array":
        return f"array of {_schema_type(node.get('items', {}))}"
    if kind == "string" and node.get("format") == "binary":
        return "file"
    return str(kind)


def _constraints(node: dict[str, Any]) -> str:
    parts = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            parts.append(f"{sign} {node[key]}")
    for key, label in (("minLength", "min length"), ("maxLength", "max length"), ("maxItems", "max items")):
        if key in node:
            parts.append(f"{label} {node[key]}")
    for alternative in node.get("anyOf", []):
        inner = _constraints(alternative)
        if inner:
            parts.append(inner)
    return ", ".join(parts)


def _anchor(name: str) -> str:
    return "schema-" + name.lower().replace("_", "-")


def _properties_table(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    schema = _resolve(document, schema)
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", []))
    rows = ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    for name, prop in properties.items():
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        description = " ".join(str(prop.get("description", "")).split())
        limits = _constraints(prop)
        if limits:
            description = f"{description} ({limits})" if description else limits
        rows.append(
            f"| `{name}` | {_schema_type(prop)} | {'yes' if name in required else ''} | {_cell(default)} "
            f"| {_cell(description)} |"
        )
    return [*rows, ""]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = [
        (method, path, op)
        for path, item in document.get("paths", {}).items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]
    # The API first, then the probes every app has (/health, /ready, /metrics).
    return sorted(ops, key=lambda o: (not o[1].startswith("/v1/"), o[1]))


def _response_row(status: str, response: dict[str, Any]) -> str:
    kinds = ", ".join(
        f"`{ct}` {_schema_type(m.get('schema', {}))}".strip() for ct, m in response.get("content", {}).items()
    )
    return f"| {status} | {_cell(response.get('description', ''))} | {kinds} |"


def openapi_markdown(document: dict[str, Any]) -> str:
    out: list[str] = []
    info = document.get("info", {})
    out.append(f"{info.get('title', '')} {info.get('version', '')}: {' '.join(info.get('description', '').split())}\n")
    ops = _operations(document)
    # Responses every operation declares alike (the error statuses of the middleware) are listed once.
    rows_per_op = [{_response_row(st, r) for st, r in op.get("responses", {}).items()} for _, _, op in ops]
    common = set.intersection(*rows_per_op) if rows_per_op else set()
    if common:
        out.append("## Responses of every endpoint\n")
        out.append("Besides its own answers below, any endpoint can answer these (all errors are `ErrorResponse`):\n")
        out.append("| status | meaning | body |\n|---|---|---|")
        out.extend(sorted(common))
        out.append("")
    for method, path, op in ops:
        out.append(f"## `{method.upper()} {path}`\n")
        summary = op.get("summary")
        if summary:
            out.append(f"**{summary}**\n")
        if op.get("description"):
            out.append(f"{op['description'].strip()}\n")
        body = op.get("requestBody", {}).get("content", {})
        for content_type, media in body.items():
            schema = media.get("schema", {})
            out.append(f"Request body, `{content_type}`: {_schema_type(schema)}\n")
            out.extend(_properties_table(document, schema) if "$ref" not in schema else [])
        parameters = op.get("parameters", [])
        if parameters:
            out.append("| parameter | in | type | required | description |\n|---|---|---|---|---|")
            for p in parameters:
                out.append(
                    f"| `{p['name']}` | {p['in']} | {_schema_type(p.get('schema', {}))} "
                    f"| {'yes' if p.get('required') else ''} | {_cell(p.get('description', ''))} |"
                )
            out.append("")
        own = [_response_row(st, r) for st, r in op.get("responses", {}).items()]
        out.append("| status | meaning | body |\n|---|---|---|")
        out.extend(row for row in own if row not in common)
        out.append("")
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    if schemas:
        out.append("## Schemas\n")
        for name, schema in sorted(schemas.items()):
            out.append(f"### {name} {{ #{_anchor(name)} }}\n")
            if schema.get("description"):
                out.append(f"{' '.join(schema['description'].split())}\n")
            table = _properties_table(document, schema)
            if table:
                out.extend(table)
            elif "enum" in schema:
                out.append("One of " + ", ".join(f"`{v}`" for v in schema["enum"]) + ".\n")
            else:
                out.append(f"{_schema_type(schema)}\n")
    return "\n".join(out)


# --- the pages -----------------------------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_markdown,
    "cli": cli_markdown,
    "errors": errors_markdown,
    "openapi": lambda: openapi_markdown(gateway_openapi()),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the documentation's generated reference pages.")
    parser.add_argument("--out", type=Path, required=True, help="directory for the Markdown files and openapi.json")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, generate in GENERATORS.items():
        (args.out / f"{name}.md").write_text(generate(), encoding="utf-8")
    (args.out / "openapi.json").write_text(json.dumps(gateway_openapi(), indent=2), encoding="utf-8")
    missing = undocumented_fields()
    for owner in missing:
        print(f"settings field without a description: {owner}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
