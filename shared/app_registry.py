"""The registry of apps: name -> uvicorn factory, settings class and default port, declared once.

The embedded runner (`gmner/embedded/stack.py`), the Docker entrypoint (`deploy/docker/entrypoint.py`), the
apps' settings (their default `port`) and the gateway's default stage URLs all read it, so a new stage or a
moved port is one line here. It holds import strings, not classes: shared/ never imports services/ or
gateway/, and the containers' healthcheck imports this module alone (no pydantic, no numpy) on every probe.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AppSpec:
    name: str
    # `module:callable` for `uvicorn --factory`.
    factory: str
    # `module:Class` of the app's settings (a `shared.settings.AppSettings` subclass).
    settings: str
    port: int
    # Whether the gateway can answer without this stage (entities then say why their visual fields are null).
    optional: bool = False

    @property
    def env_prefix(self) -> str:
        return f"GMNER_{self.name.upper()}_"

    def url(self, host: str = "127.0.0.1", port: int | None = None) -> str:
        return f"http://{host}:{self.port if port is None else port}"

    def settings_class(self) -> type[Any]:
        """Imports the settings class (and with it the app's package): only where the app is to run."""
        module, name = self.settings.split(":")
        settings_class: type[Any] = getattr(importlib.import_module(module), name)
        return settings_class


# In pipeline order; the gateway, which calls the others, last (the runner starts them in this order).
APPS: dict[str, AppSpec] = {
    spec.name: spec
    for spec in (
        AppSpec("ner", "services.ner.app:create_app", "services.ner.settings:NERSettings", 8001),
        AppSpec(
            "expansion", "services.expansion.app:create_app", "services.expansion.settings:ExpansionSettings", 8002
        ),
        AppSpec("ve", "services.ve.app:create_app", "services.ve.settings:VESettings", 8003, optional=True),
        AppSpec("vg", "services.vg.app:create_app", "services.vg.settings:VGSettings", 8004, optional=True),
        AppSpec("sam", "services.sam.app:create_app", "services.sam.settings:SamSettings", 8005, optional=True),
        AppSpec("gateway", "gateway.app:create_app", "gateway.settings:GatewaySettings", 8000),
    )
}

# The stages behind the gateway.
STAGES: tuple[str, ...] = tuple(name for name in APPS if name != "gateway")
