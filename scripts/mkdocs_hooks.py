"""MkDocs hooks (`hooks:` in mkdocs.yml): the reference pages are generated from the code at build time.

A page asks for a generated part with a marker line, e.g. `<!-- gmner:settings -->`; `<!-- gmner:include PATH -->`
includes a file of the repository as it is (the model cards). The gateway's OpenAPI document is added to the site
as `reference/openapi.json`. A settings field without a description is logged as a warning, which fails
`mkdocs build --strict`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.structure.files import File, Files

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!-- gmner:(\w+)(?: ([^ ]+))? -->$", re.MULTILINE)
log = logging.getLogger("mkdocs.plugins.gmner")


def _generator() -> ModuleType:
    # scripts/ is not a package: load the generator beside this file by path.
    spec = importlib.util.spec_from_file_location(
        "gen_docs_reference", Path(__file__).with_name("gen_docs_reference.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def on_files(files: Files, config: Any) -> Files:
    gen = _generator()
    openapi = json.dumps(gen.gateway_openapi(), indent=2)
    files.append(File.generated(config, "reference/openapi.json", content=openapi))
    for owner in gen.undocumented_fields():
        log.warning("settings field without a description (add Field(description=...)): %s", owner)
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if "<!-- gmner:" not in markdown:
        return markdown
    gen = _generator()

    def replace(match: re.Match[str]) -> str:
        kind, argument = match.group(1), match.group(2)
        if kind == "include":
            path = (REPO_ROOT / argument).resolve()
            if REPO_ROOT not in path.parents or not path.is_file():
                log.warning("%s: cannot include %s", page.file.src_uri, argument)
                return ""
            return path.read_text(encoding="utf-8")
        generate = gen.GENERATORS.get(kind)
        if generate is None:
            log.warning("%s: unknown marker gmner:%s", page.file.src_uri, kind)
            return match.group(0)
        text: str = generate()
        return text

    return MARKER.sub(replace, markdown)
