"""`gmner train ner --recipe transformers` with a tiny random BERT (vocabulary written here), then loaded through
the transformers backend; and the recipe's CRF loss checked against brute-force enumeration."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from gmner.cli import main
from gmner.training.synthetic import SYLLABLES, write_synthetic_dataset
from gmner.training.transformers_recipe import LABELS, _crf_module
from services.ner.backends.transformers_backend import CRF_FILE, TransformersNERBackend
from tests.tiny_models import save_tiny_bert

torch = pytest.importorskip("torch")

WORDS = [
    "i", "saw", "yesterday", "look", "at", "now", "so", "happy", "about", "today", "named", "entities", ":",
    "none", ".", "1", "(", ")", "person", "location", "organization", "reasoning", "the", "sentence", "mentions",
    ",", "a", "is", "not", "name", "here", "just", "word", *[f"##{s}" for s in SYLLABLES], *SYLLABLES,
]  # fmt: skip


def _tiny_bert(path: Path) -> Path:
    return save_tiny_bert(path, WORDS, hidden_size=32, intermediate_size=64, max_position_embeddings=128)


def test_crf_loss_is_the_negative_log_likelihood() -> None:
    torch.manual_seed(0)
    crf = _crf_module(torch, 3)
    emissions = torch.randn(2, 3, 3)
    tags = torch.tensor([[0, 2, 1], [1, 1, 0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])

    def score(e: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
        total = crf.start_transitions[path[0]] + e[0, path[0]] + crf.end_transitions[path[-1]]
        for t in range(1, len(path)):
            total = total + crf.transitions[path[t - 1], path[t]] + e[t, path[t]]
        return total

    expected = []
    for row, length in ((0, 3), (1, 2)):
        e = emissions[row, :length]
        log_z = torch.logsumexp(torch.stack([score(e, p) for p in itertools.product(range(3), repeat=length)]), 0)
        expected.append(log_z - score(e, tuple(tags[row, :length].tolist())))
    assert crf(emissions, tags, mask).item() == pytest.approx(torch.stack(expected).mean().item(), abs=1e-5)


def _train(tmp_path: Path, *options: str) -> tuple[int, Path]:
    """`gmner train ner --recipe transformers` on a synthetic dataset (12 train posts) with the tiny BERT."""
    data = write_synthetic_dataset(tmp_path / "data", train=12, dev=4, test=4)
    encoder = _tiny_bert(tmp_path / "tiny-bert")
    out = tmp_path / "model"
    argv = ["train", "ner", "--recipe", "transformers", "--data-dir", str(data), "--out", str(out)]
    argv += ["--model", str(encoder), "--epochs", "3", "--max-length", "64", "--device", "cpu", *options]
    return main(argv), out


def test_train_ner_transformers_recipe_saves_what_the_backend_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _train(tmp_path, "--lr", "1e-3", "--head-lr", "1e-2", "--batch-size", "4")
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert 1 <= summary["best"]["epoch"] <= 3
    report = json.loads((out / "training_report.json").read_text())
    assert [h["epoch"] for h in report["history"]] == [1, 2, 3]
    assert report["history"][-1]["loss"] < report["history"][0]["loss"]

    from safetensors.numpy import load_file

    crf = load_file(str(out / CRF_FILE))
    assert crf["transitions"].shape == (len(LABELS), len(LABELS))
    assert crf["start_transitions"].shape == crf["end_transitions"].shape == (len(LABELS),)

    backend = TransformersNERBackend(str(out))
    assert backend.crf is not None and backend.scheme == "bio"
    assert backend.max_length == 64  # the --max-length it was trained with, read from training_report.json
    assert [backend.id2label[i] for i in range(len(LABELS))] == list(LABELS)
    text = "i saw kalomi yesterday"
    entities = backend(text, "Named entities: 1. kalomi (person)")
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text


def test_time_budget_stops_training_mid_epoch_and_keeps_the_scored_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A budget of zero minutes: the first step spends it, so training stops after one of the 3 x 6 planned steps.
    code, out = _train(tmp_path, "--batch-size", "2", "--time-budget-min", "0")
    assert code == 0
    capsys.readouterr()
    report = json.loads((out / "training_report.json").read_text())
    assert report["stopped_by_time_budget"] is True
    assert (report["steps"], report["planned_steps"]) == (1, 18)
    assert [h["epoch"] for h in report["history"]] == [1]
    assert report["history"][0]["epoch_fraction"] == pytest.approx(1 / 6, abs=1e-3)
    assert report["best"]["epoch"] == 1
    assert TransformersNERBackend(str(out)).crf is not None
