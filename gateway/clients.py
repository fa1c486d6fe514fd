"""The gateway's clients for each stage, built from settings."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import GatewaySettings
from shared.http import StageClient


@dataclass
class StageClients:
    ner: StageClient
    expansion: StageClient
    ve: StageClient | None
    vg: StageClient | None
    sam: StageClient | None

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> StageClients:
        def client(stage: str, url: str | None, timeout_s: float) -> StageClient | None:
            if not url:
                return None
            return StageClient(stage, url, timeout_s=timeout_s, retries=settings.stage_retries, caller="gateway")

        ner = client("ner", settings.ner_url, settings.ner_timeout_s)
        expansion = client("expansion", settings.expansion_url, settings.expansion_timeout_s)
        assert ner is not None and expansion is not None  # both URLs are required settings
        return cls(
            ner=ner,
            expansion=expansion,
            ve=client("ve", settings.ve_url, settings.ve_timeout_s),
            vg=client("vg", settings.vg_url, settings.vg_timeout_s),
            sam=client("sam", settings.sam_url, settings.sam_timeout_s),
        )

    def all(self) -> list[StageClient]:
        return [c for c in (self.ner, self.expansion, self.ve, self.vg, self.sam) if c is not None]

    async def aclose(self) -> None:
        for client in self.all():
            await client.aclose()
