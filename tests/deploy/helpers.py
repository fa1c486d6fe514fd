"""What the deployment tests read: the apps' settings classes, the compose files, .env.example, the manifests."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from gateway.settings import GatewaySettings
from services.expansion.settings import ExpansionSettings
from services.ner.settings import NERSettings
from services.sam.settings import SamSettings
from services.ve.settings import VESettings
from services.vg.settings import VGSettings
from shared.limits import TextLimits
from shared.settings import ImageLimits, LLMSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "deploy" / "docker"
K8S_DIR = ROOT / "deploy" / "k8s"
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.cpu.yml")

APP_SETTINGS: dict[str, type[BaseSettings]] = {
    "ner": NERSettings,
    "expansion": ExpansionSettings,
    "ve": VESettings,
    "vg": VGSettings,
    "sam": SamSettings,
    "gateway": GatewaySettings,
}
APP_PACKAGES = {app: ROOT / ("gateway" if app == "gateway" else f"services/{app}") for app in APP_SETTINGS}
# Stages with a model that wants a GPU in production (expansion only calls the LLM).
GPU_APPS = ("ner", "ve", "vg", "sam")


def default_port(app: str) -> int:
    return int(APP_SETTINGS[app].model_fields["port"].default)


def env_names(settings_class: type[BaseSettings]) -> set[str]:
    """Every environment variable `settings_class` reads: prefix + field, and prefix + field + `__` + sub-field
    for nested models where the class has a nested delimiter."""
    config = settings_class.model_config
    prefix = str(config.get("env_prefix", ""))
    delimiter = config.get("env_nested_delimiter")
    names = set()
    for name, field in settings_class.model_fields.items():
        names.add(f"{prefix}{name}".upper())
        annotation = field.annotation
        if delimiter and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.update(f"{prefix}{name}{delimiter}{sub}".upper() for sub in annotation.model_fields)
    return names


@cache
def shared_settings_used(app: str) -> tuple[type[BaseSettings], ...]:
    """The shared settings an app reads: the text limits (every app, through the request schemas), and, found in
    its source, the LLM client's and the image limits."""
    source = "\n".join(p.read_text() for p in APP_PACKAGES[app].rglob("*.py"))
    used: list[type[BaseSettings]] = [TextLimits]
    if "build_llm_client" in source or "LLMSettings" in source:
        used.append(LLMSettings)
    if "ImageLimits" in source:
        used.append(ImageLimits)
    return tuple(used)


def app_env_names(app: str) -> set[str]:
    names = env_names(APP_SETTINGS[app])
    for shared in shared_settings_used(app):
        names |= env_names(shared)
    return names


def all_gmner_env_names() -> set[str]:
    return set().union(*(app_env_names(app) for app in APP_SETTINGS))


def settings_for(app: str, env: dict[str, str]) -> list[BaseSettings]:
    """Builds the app's settings (and the shared ones it uses) from `env` alone; raises if a value is invalid."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("GMNER_")}
    for key in saved:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("GMNER_")})
    try:
        return [APP_SETTINGS[app](), *(shared() for shared in shared_settings_used(app))]
    finally:
        for key in [k for k in os.environ if k.startswith("GMNER_")]:
            del os.environ[key]
        os.environ.update(saved)


_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example(*, include_commented: bool = False) -> dict[str, str]:
    """Assignments of .env.example; commented ones (`# NAME=value`, the defaults) on request."""
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match and (include_commented or not match.group(1)):
            values[match.group(2)] = match.group(3)
    return values


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolation_names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {m.group(1) for m in _INTERPOLATION.finditer(value)}
    if isinstance(value, list):
        return set().union(set(), *(interpolation_names(v) for v in value))
    if isinstance(value, dict):
        return set().union(set(), *(interpolation_names(v) for v in value.values()))
    return set()


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}."""
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        current = env.get(name)
        if operator == ":-":
            return current or argument
        if operator == "-":
            return argument if current is None else current
        if operator in (":?", "?"):
            missing = not current if operator == ":?" else current is None
            if missing:
                raise KeyError(f"{name} is required: {argument}")
            return current or ""
        return current or ""

    return _INTERPOLATION.sub(substitute, value)


@cache
def compose(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def compose_services(name: str) -> dict[str, dict[str, Any]]:
    return compose(name)["services"]


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: str(v) for k, v in environment.items()}


def k8s_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_arg_defaults(path: Path) -> dict[str, str]:
    """The default of every `ARG NAME=value` of a Dockerfile (the first one wins, as before the first FROM)."""
    defaults: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            defaults.setdefault(name.strip(), value.strip())
    return defaults


def base_images(path: Path) -> list[str]:
    """The images of a Dockerfile's FROM lines, `${ARG}` resolved with the ARG defaults; stage names excluded."""
    defaults = dockerfile_arg_defaults(path)
    images = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], rest.split()[0])
            images.append(image)
    return images


def image_is_pinned(image: str) -> bool:
    """A tag with a version in it (not `latest`, not absent), or a digest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag: the colon belonged to a registry port
        return False
    return tag != "latest" and any(c.isdigit() for c in tag)
