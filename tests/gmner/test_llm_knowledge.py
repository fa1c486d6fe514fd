"""`gmner knowledge`: knowledge files written post by post, resumed after an interruption, refused when they
belong to another split; and the training recipe's copies of the posts such a file covers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gmner.cli import main
from gmner.eval.knowledge import read_knowledge
from gmner.training.crf_recipe import CRFRecipeConfig, llm_knowledge_copies, train_crf_ner
from gmner.training.data import Post, load_split
from gmner.training.llm_knowledge import generate_knowledge_file
from gmner.training.synthetic import write_synthetic_dataset


def _posts(count: int) -> list[Post]:
    return [Post(id=str(i), words=["post", str(i), "here"], tags=["O", "B-MISC", "O"]) for i in range(count)]


def _fake_llm(calls: list[str]) -> object:
    def knowledge_of(text: str) -> str | None:
        calls.append(text)
        return None if text == "post 2 here" else f"Named entities: 1. {text.split()[1]} (number)"

    return knowledge_of


def test_writes_the_dataset_format_and_counts_failures(tmp_path: Path) -> None:
    out = tmp_path / "k" / "train.txt"
    calls: list[str] = []
    summary = generate_knowledge_file(_posts(4), out, _fake_llm(calls), log=lambda _m: None)  # type: ignore[arg-type]
    assert (summary.total, summary.already, summary.written, summary.failed) == (4, 0, 4, 1)
    entries = read_knowledge(out).entries
    assert [e.text for e in entries] == [f"post {i} here" for i in range(4)]
    assert entries[1].knowledge == "Named entities: 1. 1 (number)"
    assert entries[2].knowledge == ""  # the failed call: written empty so the file stays aligned
    assert out.read_text().startswith("post\tO\n0\tB-MISC\nhere\tO\n<EOS>\tX\nNamed\tX\n")


def test_resumes_after_the_posts_written_and_drops_a_half_written_block(tmp_path: Path) -> None:
    out = tmp_path / "train.txt"
    posts = _posts(5)
    generate_knowledge_file(posts[:2], out, _fake_llm([]), log=lambda _m: None)  # type: ignore[arg-type]
    with open(out, "a", encoding="utf-8") as f:
        f.write("post\tO\n2\tB-MISC\n<EOS>\tX\nNamed")  # killed in the middle of post 3
    calls: list[str] = []
    summary = generate_knowledge_file(posts, out, _fake_llm(calls), log=lambda _m: None)  # type: ignore[arg-type]
    assert summary.already == 2 and summary.written == 3
    assert calls == ["post 2 here", "post 3 here", "post 4 here"]
    assert [e.text for e in read_knowledge(out).entries] == [p.text for p in posts]


def test_refuses_a_file_of_other_posts_and_stops_on_the_time_budget(tmp_path: Path) -> None:
    out = tmp_path / "train.txt"
    generate_knowledge_file(_posts(2), out, _fake_llm([]), log=lambda _m: None)  # type: ignore[arg-type]
    others = [Post(id="x", words=["another", "post"], tags=["O", "O"]), *_posts(2)]
    with pytest.raises(ValueError, match="entry 1 is not post 1"):
        generate_knowledge_file(others, out, _fake_llm([]), log=lambda _m: None)  # type: ignore[arg-type]
    calls: list[str] = []
    summary = generate_knowledge_file(
        _posts(4),
        out,
        _fake_llm(calls),  # type: ignore[arg-type]
        time_budget_s=0,
        log=lambda _m: None,
    )
    assert summary.stopped_by_time_budget and summary.written == 0 and calls == []


def test_command_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["knowledge", "--data-dir", str(tmp_path), "--out", str(tmp_path / "k.txt")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["knowledge", "--out", str(tmp_path / "k.txt"), "--limit", "0"]) == 2
    assert "--limit" in capsys.readouterr().err


def test_training_adds_a_copy_of_each_covered_post(tmp_path: Path) -> None:
    data = write_synthetic_dataset(tmp_path / "data", train=40, dev=12, test=4)
    posts = load_split(data, "train", knowledge=False).posts
    knowledge = tmp_path / "llm-train.txt"
    answers = iter(["Named entities: 1. x (person)", None, *["Named entities: None."] * 8])
    generate_knowledge_file(posts[:10], knowledge, lambda _t: next(answers), log=lambda _m: None)
    copies = llm_knowledge_copies(posts, knowledge)
    assert [index for index, _ in copies] == [0, *range(2, 10)]  # post 1's call failed: no copy
    assert copies[0][1].knowledge == "Named entities: 1. x (person)" and copies[0][1].words == posts[0].words

    logged: list[str] = []
    cfg = CRFRecipeConfig(
        data_dir=data, out=tmp_path / "model", plain=False, folds=2, gbm_iterations=20, llm_knowledge=knowledge
    )
    cfg.log = logged.append
    train_crf_ner(cfg)
    assert any("9 copies with the LLM knowledge" in line for line in logged)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["training"]["config"]["llm_knowledge"].endswith("llm-train.txt")
    with pytest.raises(FileNotFoundError, match="gmner knowledge"):
        train_crf_ner(CRFRecipeConfig(data_dir=data, out=tmp_path / "m2", llm_knowledge=tmp_path / "missing.txt"))
