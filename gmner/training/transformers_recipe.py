"""The `transformers` recipe of `gmner train ner`: a Hugging Face encoder + CRF, the paper's production NER.

The post's words are the first sequence and the knowledge the second (as the paper appends it), only the
post's words are tagged (first sub-token of each word), and a linear-chain CRF sits on the per-word scores.
Defaults follow RiVEG: XLM-R large, lr 7e-6, batch 4, 25 epochs (a GPU job: about an hour on one modern GPU;
not meant for a CPU). The best epoch on the dev split is kept.

Output: a directory that `services.ner.backends.transformers_backend.TransformersNERBackend` loads: the model
and tokenizer (`save_pretrained`), `crf.safetensors` with `transitions` [K, K] (tag i -> tag j),
`start_transitions` and `end_transitions` [K], and `training_report.json`.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gmner.training.data import Post, load_split
from gmner.training.metrics import PRF, score_spans, tag_spans

RECIPE = "transformers"
LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC")
REPORT_FILE = "training_report.json"


@dataclass
class TransformersRecipeConfig:
    data_dir: Path
    out: Path
    model: str = "xlm-roberta-large"  # a local path or hub id (the hub only where it is reachable)
    knowledge: bool = True
    epochs: int = 25
    learning_rate: float = 7e-6  # the encoder's
    head_learning_rate: float = 1e-3  # the classifier head's and the CRF's (new, randomly initialised)
    batch_size: int = 4
    max_length: int = 256
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    device: str = "auto"
    seed: int = 42
    limit: int | None = None  # only the first N posts of each split (smoke runs)
    # Wall-clock budget for the optimisation steps (None: none). When it runs out mid-epoch, training stops there,
    # the partial epoch is scored on dev like a full one and kept if it is the best: a CPU run stays bounded.
    time_budget_s: float | None = None
    log_every: int = 50  # steps between progress lines
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))


def _crf_module(torch: Any, num_tags: int) -> Any:
    """A linear-chain CRF (the pytorch-crf layout: transitions[i, j] scores tag i followed by tag j)."""
    from torch import nn

    class CRF(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
            self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
            self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

        def forward(self, emissions: Any, tags: Any, mask: Any) -> Any:
            """Mean negative log-likelihood. emissions [B, T, K], tags [B, T], mask [B, T] (bool, left-aligned)."""
            batch = torch.arange(emissions.shape[0], device=emissions.device)
            maskf = mask.to(emissions.dtype)
            score = self.start_transitions[tags[:, 0]] + emissions[batch, 0, tags[:, 0]]
            for t in range(1, emissions.shape[1]):
                step = self.transitions[tags[:, t - 1], tags[:, t]] + emissions[batch, t, tags[:, t]]
                score = score + step * maskf[:, t]
            last = tags[batch, mask.long().sum(1) - 1]
            score = score + self.end_transitions[last]

            alpha = self.start_transitions + emissions[:, 0]
            for t in range(1, emissions.shape[1]):
                nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
                alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
            partition = torch.logsumexp(alpha + self.end_transitions, dim=1)
            return (partition - score).mean()

    return CRF()


def _encode(tokenizer: Any, post: Post, knowledge: bool, max_length: int) -> tuple[dict[str, list[int]], list[int]]:
    """Token ids of (words, knowledge words) and the index of each word's first sub-token (-1: truncated)."""
    context = post.knowledge.split() if knowledge and post.knowledge else None
    encoding = tokenizer(
        post.words,
        context,
        is_split_into_words=True,
        truncation="only_second" if context else True,
        max_length=max_length,
    )
    first = [-1] * len(post.words)
    for index, (word, sequence) in enumerate(zip(encoding.word_ids(), encoding.sequence_ids(), strict=True)):
        if word is not None and sequence == 0 and first[word] < 0:
            first[word] = index
    return {k: list(v) for k, v in encoding.items()}, first


def train_transformers_ner(cfg: TransformersRecipeConfig) -> dict[str, Any]:
    import numpy as np
    import torch
    from safetensors.numpy import save_file
    from transformers import AutoModelForTokenClassification, AutoTokenizer, get_linear_schedule_with_warmup

    from engines.ner.decoding import viterbi_decode

    started = time.perf_counter()

    def log(message: str) -> None:
        cfg.log(f"[{time.perf_counter() - started:6.0f}s] {message}")

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device

    train_posts = load_split(cfg.data_dir, "train", knowledge=cfg.knowledge).posts
    dev_posts = load_split(cfg.data_dir, "dev", knowledge=cfg.knowledge).posts
    if cfg.limit:
        train_posts, dev_posts = train_posts[: cfg.limit], dev_posts[: cfg.limit]
    label_to_id = {label: i for i, label in enumerate(LABELS)}
    for post in train_posts + dev_posts:
        unknown = set(post.tags) - set(LABELS)
        if unknown:
            raise ValueError(f"post {post.id}: tags {sorted(unknown)} outside {LABELS}")

    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    if not tokenizer.is_fast:
        raise ValueError(f"{cfg.model}: a fast tokenizer is needed (word_ids)")
    model = AutoModelForTokenClassification.from_pretrained(
        cfg.model,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id=label_to_id,
        ignore_mismatched_sizes=True,
    ).to(device)
    crf = _crf_module(torch, len(LABELS)).to(device)
    log(f"{cfg.model} on {device}: {len(train_posts)} train / {len(dev_posts)} dev posts")

    train_data = [(*_encode(tokenizer, p, cfg.knowledge, cfg.max_length), p) for p in train_posts]
    dev_data = [(*_encode(tokenizer, p, cfg.knowledge, cfg.max_length), p) for p in dev_posts]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def collate(batch: Sequence[tuple[dict[str, list[int]], list[int], Post]]) -> tuple[dict[str, Any], Any, Any, Any]:
        length = max(len(enc["input_ids"]) for enc, _, _ in batch)
        words = max(1, max(sum(1 for f in first if f >= 0) for _, first, _ in batch))
        inputs: dict[str, list[list[int]]] = {}
        for key in batch[0][0]:
            pad = pad_id if key == "input_ids" else 0
            inputs[key] = [enc[key] + [pad] * (length - len(enc[key])) for enc, _, _ in batch]
        positions = torch.zeros(len(batch), words, dtype=torch.long)
        tags = torch.zeros(len(batch), words, dtype=torch.long)
        mask = torch.zeros(len(batch), words, dtype=torch.bool)
        for row, (_, first, post) in enumerate(batch):
            kept = [(f, post.tags[w]) for w, f in enumerate(first) if f >= 0]
            for col, (f, tag) in enumerate(kept):
                positions[row, col] = f
                tags[row, col] = label_to_id[tag]
                mask[row, col] = True
            if not kept:
                mask[row, 0] = True  # an empty post: one dummy O word keeps the CRF's shapes valid
        tensors = {k: torch.tensor(v, device=device) for k, v in inputs.items()}
        return tensors, positions.to(device), tags.to(device), mask.to(device)

    def emissions_of(tensors: dict[str, Any], positions: Any) -> Any:
        logits = model(**tensors).logits  # [B, L, K]
        index = positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1])
        return logits.gather(1, index).float()

    head = [p for n, p in model.named_parameters() if n.startswith("classifier")]
    head_ids = {id(p) for p in head}
    decay = [p for n, p in model.named_parameters() if id(p) not in head_ids and not _no_decay(n)]
    no_decay = [p for n, p in model.named_parameters() if id(p) not in head_ids and _no_decay(n)]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "lr": cfg.learning_rate, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "lr": cfg.learning_rate, "weight_decay": 0.0},
            {"params": head + list(crf.parameters()), "lr": cfg.head_learning_rate, "weight_decay": 0.0},
        ]
    )
    steps_per_epoch = math.ceil(len(train_data) / cfg.batch_size)
    total_steps = max(1, steps_per_epoch * cfg.epochs)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)

    def evaluate() -> PRF:
        model.eval()
        transitions = crf.transitions.detach().cpu().numpy()
        start = crf.start_transitions.detach().cpu().numpy()
        end = crf.end_transitions.detach().cpu().numpy()
        predicted: list[set[tuple[int, int, str]]] = []
        with torch.inference_mode():
            for b in range(0, len(dev_data), max(8, cfg.batch_size)):
                batch = dev_data[b : b + max(8, cfg.batch_size)]
                tensors, positions, _, mask = collate(batch)
                emissions = emissions_of(tensors, positions).cpu().numpy()
                for row, (_, first, post) in enumerate(batch):
                    kept = int(mask[row].sum()) if any(f >= 0 for f in first) else 0
                    ids = viterbi_decode(emissions[row, :kept], transitions, start, end) if kept else []
                    tags = [LABELS[i] for i in ids] + ["O"] * (len(post.words) - len(ids))
                    predicted.append(tag_spans(tags))
        model.train()
        return score_spans([tag_spans(p.tags) for _, _, p in dev_data], predicted)

    best_f1 = -1.0
    best: dict[str, Any] = {"epoch": 0, "dev": {}}
    history: list[dict[str, float]] = []
    cfg.out.mkdir(parents=True, exist_ok=True)
    model.train()
    train_started = time.perf_counter()
    step = 0
    out_of_time = False
    for epoch in range(1, cfg.epochs + 1):
        random.shuffle(train_data)
        losses = []
        for b in range(0, len(train_data), cfg.batch_size):
            tensors, positions, tags, mask = collate(train_data[b : b + cfg.batch_size])
            loss = crf(emissions_of(tensors, positions), tags, mask)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(crf.parameters()), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            step += 1
            spent = time.perf_counter() - train_started
            if cfg.log_every and step % cfg.log_every == 0:
                eta = spent / step * (total_steps - step)
                log(
                    f"step {step}/{total_steps} (epoch {epoch}): loss {np.mean(losses[-cfg.log_every :]):.4f}, "
                    f"{spent / step:.2f} s/step, about {eta / 60:.0f} min left"
                )
            if cfg.time_budget_s is not None and spent >= cfg.time_budget_s:
                out_of_time = True
                break
        dev = evaluate()
        done = len(losses) / steps_per_epoch
        history.append(
            {
                "epoch": epoch,
                "epoch_fraction": round(done, 3),
                "loss": float(np.mean(losses)),
                "dev_f1": round(100 * dev.f1, 2),
            }
        )
        log(
            f"epoch {epoch}/{cfg.epochs} ({100 * done:.0f}% of it): loss {np.mean(losses):.4f}, "
            f"dev F1 {100 * dev.f1:.2f}"
        )
        if dev.f1 > best_f1:
            best_f1 = dev.f1
            model.save_pretrained(str(cfg.out))
            tokenizer.save_pretrained(str(cfg.out))
            save_file(
                {
                    "transitions": crf.transitions.detach().cpu().numpy().astype(np.float32),
                    "start_transitions": crf.start_transitions.detach().cpu().numpy().astype(np.float32),
                    "end_transitions": crf.end_transitions.detach().cpu().numpy().astype(np.float32),
                },
                str(cfg.out / "crf.safetensors"),
            )
            best = {"epoch": epoch, "dev": dev.as_dict()}
        if out_of_time:
            log(f"time budget of {cfg.time_budget_s:.0f} s spent after {step} of {total_steps} steps")
            break

    report = {
        "recipe": RECIPE,
        "model": cfg.model,
        "device": device,
        "train_posts": len(train_posts),
        "dev_posts": len(dev_posts),
        "best": best,
        "history": history,
        "seconds": round(time.perf_counter() - started, 1),
        "steps": step,
        "planned_steps": total_steps,
        "stopped_by_time_budget": out_of_time,
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("data_dir", "out", "log")}
        | {"data_dir": str(cfg.data_dir)},
    }
    (cfg.out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log(f"best dev F1 {best['dev'].get('f1')} at epoch {best['epoch']}; model written to {cfg.out}")
    return report


def _no_decay(name: str) -> bool:
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
