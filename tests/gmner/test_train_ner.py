"""`gmner train ner` (embedded recipe) on a tiny synthetic dataset, and the training-data readers and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.ner.crf_model import CONFIG_FILE
from gmner.cli import main
from gmner.training.data import load_split, read_conll, read_knowledge
from gmner.training.metrics import score_tags, tag_spans
from gmner.training.synthetic import write_synthetic_dataset
from services.ner.backends.crf import CRFNERBackend


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("data"), train=48, dev=16, test=8)


def test_readers_join_text_and_knowledge(tmp_path: Path) -> None:
    (tmp_path / "twitter-gmner-v2" / "txt").mkdir(parents=True)
    (tmp_path / "gmner-knowledge").mkdir()
    (tmp_path / "twitter-gmner-v2" / "txt" / "dev.txt").write_text(
        "IMGID:1\nNick\tB-PER\nJonas\tI-PER\nsings\tO\n\nIMGID:2\n#\tO\nOscars\tB-OTHER\n\n"
    )
    # The knowledge file lists the posts in another order: they are joined by text.
    (tmp_path / "gmner-knowledge" / "valid.txt").write_text(
        "#\tO\nOscars\tB-OTHER\n<EOS>\tX\nNamed\tX\nentities:\tX\n1.\tX\nOscars\tX\n(event)\tX\n\n"
        "Nick\tB-PER\nJonas\tI-PER\nsings\tO\n<EOS>\tX\nNamed\tX\nentities:\tX\nNone.\tX\n\n"
    )
    split = load_split(tmp_path, "dev")
    assert [p.id for p in split.posts] == ["1", "2"]
    assert split.posts[1].tags == ["O", "B-MISC"]  # OTHER is read as MISC
    assert split.posts[0].knowledge == "Named entities: None."
    assert split.posts[1].knowledge == "Named entities: 1. Oscars (event)"
    assert split.knowledge_missing == 0
    assert read_knowledge(tmp_path / "gmner-knowledge" / "valid.txt")[0][0] == "# Oscars"
    assert len(read_conll(tmp_path / "twitter-gmner-v2" / "txt" / "dev.txt")) == 2
    with pytest.raises(FileNotFoundError):
        load_split(tmp_path, "test")


def test_span_metrics_by_hand() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-MISC"]]
    result = score_tags(gold, predicted)
    # Correct: PER (0, 2) and ORG (0, 1); wrong: ORG (3, 4) for LOC, a spurious MISC.
    assert (result.tp, result.predicted, result.gold) == (2, 4, 3)
    assert result.precision == pytest.approx(0.5) and result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(4 / 7)
    assert result.per_type["LOC"] == (0, 0, 1) and result.per_type["ORG"] == (1, 2, 1)
    assert tag_spans(["I-PER", "I-PER", "O"]) == {(0, 2, "PER")}  # lenient like seqeval


def test_train_ner_embedded_writes_a_model_the_backend_loads(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model"
    (out).mkdir()
    (out / "MODEL_CARD.md").write_text("kept")
    code = main(
        ["train", "ner", "--data-dir", str(data_dir), "--out", str(out), "--folds", "2", "--gbm-iterations", "30"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["dev"]) == {"knowledge", "plain"}
    assert summary["dev"]["knowledge"]["f1"] == 100.0
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["training"]["recipe"] == "embedded" and config["training"]["train_posts"] == 48
    assert (out / "knowledge" / "crf.crfsuite").exists() and (out / "gazetteer.json").exists()
    assert (out / "MODEL_CARD.md").read_text() == "kept"  # retraining keeps files it does not write
    entities = CRFNERBackend(out)("so happy about quazumi today", "Named entities: 1. quazumi (organization)")
    assert [(e.text, e.type.value) for e in entities] == [("quazumi", "ORG")]


def test_train_ner_without_knowledge_trains_the_plain_variant_only(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plain"
    args = ["train", "ner", "--data-dir", str(data_dir), "--out", str(out), "--no-knowledge", "--no-reranker"]
    assert main(args) == 0
    config = json.loads((out / CONFIG_FILE).read_text())
    assert list(config["variants"]) == ["plain"]
    assert config["variants"]["plain"]["use_knowledge"] is False and config["variants"]["plain"]["reranker"] is False
    backend = CRFNERBackend(out)
    assert backend.model.pick_variant(True).name == "plain"  # the only variant serves requests with knowledge too


def test_train_ner_refuses_bad_arguments(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "ner", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train", "ner", "--data-dir", str(data_dir), "--out", str(tmp_path / "m"), "--limit", "0"]) == 2
    assert "--limit" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
