"""Starting the embedded stack (real processes, real models) on free ports for integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gmner.embedded.settings import EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack
from tests.conftest import free_port


@contextmanager
def running_stack(stages: list[str], tmp_dir, **env: str) -> Iterator[EmbeddedStack]:
    settings = EmbeddedSettings(
        gateway_port=free_port(),
        ner_port=free_port(),
        expansion_port=free_port(),
        ve_port=free_port(),
        vg_port=free_port(),
        sam_port=free_port(),
        llm_port=free_port(),
        stages=stages,
        log_dir=tmp_dir,
        ready_timeout_s=240,
    )
    # A fresh cache namespace per run, so the first request is a real miss.
    extra_env = {"GMNER_LLM_CACHE_PREFIX": f"gmner:test:{uuid.uuid4().hex}:", **env}
    with EmbeddedStack(settings, extra_env=extra_env) as stack:
        yield stack


def metric_value(base_url: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`, scraped from `/metrics`."""
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
