"""`gmner eval` end to end on the tiny fixture (numbers worked out in test_eval_metrics.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gmner.cli import build_parser, main

FIXTURES = Path(__file__).parent / "fixtures"


def test_eval_writes_report(tmp_path, capsys):
    report = tmp_path / "out" / "report.json"
    rc = main(
        [
            "eval",
            "--gold-dir",
            str(FIXTURES / "tiny"),
            "--split",
            "test",
            "--predictions",
            str(FIXTURES / "tiny_predictions.jsonl"),
            "--gold-masks",
            str(FIXTURES / "tiny_gold_masks.jsonl"),
            "--report",
            str(report),
        ]
    )
    assert rc == 0
    data = json.loads(report.read_text())
    metrics = data["metrics"]
    assert {k: (v["tp"], v["pred"], v["gold"]) for k, v in metrics.items()} == {
        "MNER": (7, 11, 10),
        "GMNER": (4, 11, 10),
        "EEG": (5, 11, 10),
        "SMNER": (7, 11, 10),
        "EES": (8, 11, 10),
    }
    assert metrics["MNER"]["f1"] == pytest.approx(14 / 21)
    per = metrics["MNER"]["per_type"]["PER"]
    assert (per["tp"], per["pred"], per["gold"], per["precision"], per["recall"]) == (4, 5, 5, 0.8, 0.8)
    assert "per_type" not in metrics["EEG"]
    assert [row["iou"] for row in data["sweep"]["GMNER"]] == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert [row["tp"] for row in data["sweep"]["EEG"]] == [5] + [3] * 9
    assert set(data["sweep"]) == {"GMNER", "EEG", "SMNER", "EES"}
    assert data["iou_threshold"] == 0.5 and data["iou_rule"] == "IoU >= 0.5" and data["split"] == "test"
    assert "OTHER" in data["types"] and "MISC" in data["types"]
    assert data["counts"]["gold_unmatched_xml_objects"] == 1 and data["counts"]["gold_unmatched_masks"] == 1
    assert data["runtime_s"] >= 0
    out, err = capsys.readouterr()
    assert "MNER" in out and "66.67" in out  # the table, F1 in percent
    assert "IoU >= 0.5" in out and "OTHER" in out
    assert "warning:" in err and "report written" in err


def test_eval_iou_option(tmp_path):
    report = tmp_path / "r.json"
    args = ["eval", "--gold-dir", str(FIXTURES / "tiny"), "--predictions", str(FIXTURES / "tiny_predictions.jsonl")]
    assert main([*args, "--iou", "0.45", "--report", str(report), "--no-progress"]) == 0
    data = json.loads(report.read_text())
    assert data["metrics"]["GMNER"]["tp"] == 5 and data["metrics"]["EEG"]["tp"] == 6
    assert "SMNER" not in data["metrics"]
    assert main([*args, "--iou-strict", "--report", str(report), "--no-progress"]) == 0
    data = json.loads(report.read_text())
    assert data["metrics"]["GMNER"]["tp"] == 3 and data["iou_rule"] == "IoU > 0.5"


def test_eval_plain_table_without_rich(monkeypatch, capsys):
    """Without rich the same table prints as plain text."""
    import builtins

    real_import = builtins.__import__

    def no_rich(name, *args, **kwargs):
        if name.startswith("rich"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rich)
    args = ["eval", "--gold-dir", str(FIXTURES / "tiny"), "--predictions", str(FIXTURES / "tiny_predictions.jsonl")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "metric" in out and "GMNER" in out and "38.10" in out  # GMNER F1 8/21


def test_eval_bad_inputs(tmp_path, capsys):
    assert main(["eval", "--gold-dir", str(tmp_path), "--predictions", str(tmp_path / "none.jsonl")]) == 2
    assert "no gold text" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--gold-dir", "x", "--predictions", "y", "--iou", "1.5"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--gold-dir", "x", "--predictions", "y", "--iou", "0"])


def test_commands_are_registered():
    parser = build_parser()
    assert parser.parse_args(["eval", "--gold-dir", "d", "--predictions", "p"]).command == "eval"
    args = parser.parse_args(["predict-dataset", "--gold-dir", "d", "-o", "o.jsonl", "--no-knowledge"])
    assert args.command == "predict-dataset" and args.use_knowledge is False
    assert parser.parse_args(["predict-dataset", "--dataset-dir", "d", "-o", "o"]).use_knowledge is None
