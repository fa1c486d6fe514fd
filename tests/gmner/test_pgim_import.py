from __future__ import annotations

from pathlib import Path

import pytest

from engines.ner.knowledge.bank import load_examples
from gmner.cli import main


def _write_sources(tmp_path: Path) -> tuple[Path, Path, Path]:
    icl = tmp_path / "2017train.txt"
    icl.write_text(
        "17_a\nNamed entities:1. Kawhi Leonard (person/player)2. NBA (league)Reasoning:He plays in the NBA.\n"
        "17_b\nNamed entities may not be present in this sentence.\n"
    )
    conll = tmp_path / "train.txt"
    conll.write_text("IMGID:17_a\r\nKawhi\tB-PER\r\nLeonard\tI-PER\r\nwins\tO\r\n\r\nIMGID:17_b\nnice\tO\nday\tO\n")
    captions = tmp_path / "BLIP2_17.txt"
    captions.write_text("17_a.jpg :a basketball player\n17_z.jpg :other\n")
    return icl, conll, captions


def test_import_builds_a_loadable_bank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    icl, conll, captions = _write_sources(tmp_path)
    out = tmp_path / "bank.jsonl"
    args = ["examples", "import", "--icl", str(icl), "--conll", str(conll), "--captions", str(captions)]
    assert main([*args, "--out", str(out)]) == 0
    assert "wrote 2 examples" in capsys.readouterr().out
    first, second = load_examples(out)
    assert (first.id, first.text, first.image) == ("17_a", "Kawhi Leonard wins", "a basketball player")
    assert first.answer == (
        "Named entities: 1. Kawhi Leonard (person/player) 2. NBA (league) Reasoning: He plays in the NBA."
    )
    assert (second.text, second.image) == ("nice day", "")
