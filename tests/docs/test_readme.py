"""The README is a newcomer's five minutes: short, the two commands first, links that resolve."""

from __future__ import annotations

import re

import yaml

from tests.docs.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"


def test_readme_is_short() -> None:
    assert README.stat().st_size <= 15 * 1024


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert "./scripts/setup.sh && .venv/bin/gmner serve" in first_block
    assert "./scripts/test.sh" in first_block
    assert text.index("```bash") < 200


def test_readme_and_contributing_links_resolve() -> None:
    for doc in (README, REPO_ROOT / "CONTRIBUTING.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://")):
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to a missing {target}"


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        return []

    in_nav = set(pages(config["nav"]))
    on_disk = {str(p.relative_to(REPO_ROOT / "docs")) for p in (REPO_ROOT / "docs").rglob("*.md")}
    assert on_disk == in_nav
