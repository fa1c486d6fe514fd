"""Static checks of docker-compose.yml, docker-compose.cpu.yml and .env.example (no Docker engine needed; the
real run is deploy/compose_check.sh)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gmner.embedded.llm_model import bundled_llm
from gmner.embedded.settings import EmbeddedSettings
from shared.settings import LLMSettings
from tests.deploy.helpers import (
    APP_SETTINGS,
    COMPOSE_FILES,
    DOCKER_DIR,
    GPU_APPS,
    ROOT,
    all_gmner_env_names,
    app_env_names,
    compose,
    compose_services,
    default_port,
    dockerfile_arg_defaults,
    env_example,
    image_is_pinned,
    interpolate,
    interpolation_names,
    service_environment,
    settings_for,
)

INFRA = ("redis", "llm")


@pytest.fixture(params=COMPOSE_FILES)
def compose_file(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _gpu_devices(service: dict[str, Any]) -> list[dict[str, Any]]:
    return service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])


def test_every_app_and_the_infrastructure_is_a_service(compose_file: str) -> None:
    assert set(compose_services(compose_file)) == set(APP_SETTINGS) | set(INFRA)


def test_every_service_has_a_healthcheck(compose_file: str) -> None:
    for name, service in compose_services(compose_file).items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        if name in APP_SETTINGS:
            # gmner-app probes /health on the port of the app's settings (tests/deploy/test_docker.py).
            assert test[1:] == ["gmner-app", "health", name]


def test_depends_on_waits_for_healthy_services(compose_file: str) -> None:
    services = compose_services(compose_file)
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert "healthcheck" in services[dependency]
    assert set(services["gateway"]["depends_on"]) == set(APP_SETTINGS) - {"gateway"}
    for llm_user in ("ner", "expansion"):
        assert set(services[llm_user]["depends_on"]) == {"redis", "llm"}


def test_build_contexts_and_dockerfiles_exist(compose_file: str) -> None:
    for name, service in compose_services(compose_file).items():
        if "build" not in service:
            continue
        context = ROOT / service["build"]["context"]
        dockerfile = context / service["build"]["dockerfile"]
        assert context.is_dir() and dockerfile.is_file(), name
        if name in APP_SETTINGS:
            assert dockerfile.name == f"{name}.Dockerfile"


def test_image_tags_are_pinned(compose_file: str) -> None:
    version = _project_version()
    for name, service in compose_services(compose_file).items():
        # An image chosen in .env (REDIS_IMAGE) is checked with its default.
        image = interpolate(service.get("image"), {})
        assert image, f"{name} has no image name"
        assert image_is_pinned(image), f"{name}: {image}"
        if "build" in service:
            # Images built here carry the project's version.
            assert image.endswith(f":{version}"), f"{name}: {image}"


def test_only_the_gateway_publishes_a_port(compose_file: str) -> None:
    services = compose_services(compose_file)
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"gateway"}
    (mapping,) = services["gateway"]["ports"]
    container_port = str(mapping).rsplit(":", 1)[1]
    assert int(container_port) == default_port("gateway")


def test_internal_network_has_no_route_out_and_holds_redis(compose_file: str) -> None:
    document = compose(compose_file)
    assert document["networks"]["internal"] == {"internal": True}
    services = document["services"]
    assert services["redis"]["networks"] == ["internal"]
    assert services["expansion"]["networks"] == ["internal"]
    for name, service in services.items():
        assert "internal" in service["networks"], name
        assert set(service["networks"]) <= set(document["networks"]), name


def test_gateway_urls_name_the_stage_services_on_their_settings_ports(compose_file: str) -> None:
    services = compose_services(compose_file)
    environment = service_environment(services["gateway"])
    for stage in set(APP_SETTINGS) - {"gateway"}:
        url = urlsplit(environment[f"GMNER_GATEWAY_{stage.upper()}_URL"])
        assert url.hostname == stage and stage in services
        assert url.port == default_port(stage), stage


def test_llm_and_redis_urls_match_those_services(compose_file: str) -> None:
    services = compose_services(compose_file)
    if compose_file == "docker-compose.yml":
        command = [str(part) for part in services["llm"]["command"]]
        llm_port = int(command[command.index("--port") + 1])
        # The apps ask for GMNER_LLM_MODEL, so vLLM must serve its model under that name.
        alias = command[command.index("--served-model-name") + 1]
        assert alias == "${GMNER_LLM_MODEL:?set GMNER_LLM_MODEL in .env}"
    else:
        # llama-server on the port deploy/docker/llm-server.sh gives it.
        llm_port = int(re.search(r"--port (\d+)", (DOCKER_DIR / "llm-server.sh").read_text()).group(1))  # type: ignore[union-attr]
    for name in ("ner", "expansion"):
        environment = service_environment(services[name])
        base_url = urlsplit(environment["GMNER_LLM_BASE_URL"])
        assert (base_url.hostname, base_url.port, base_url.path) == ("llm", llm_port, "/v1")
        redis_url = urlsplit(environment["GMNER_LLM_REDIS_URL"])
        assert (redis_url.scheme, redis_url.hostname, redis_url.port) == ("redis", "redis", 6379)


def test_gpu_reservations_on_gpu_services_only() -> None:
    services = compose_services("docker-compose.yml")
    for name, service in services.items():
        devices = _gpu_devices(service)
        if name in (*GPU_APPS, "llm"):
            assert len(devices) == 1, name
            assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"], name
            assert devices[0].get("count") or devices[0].get("device_ids"), name
        else:
            assert devices == [], name
    assert services["llm"]["image"].startswith("vllm/vllm-openai:v")


def test_cpu_file_reserves_no_gpu() -> None:
    services = compose_services("docker-compose.cpu.yml")
    assert all(_gpu_devices(service) == [] for service in services.values())
    assert services["llm"]["build"]["dockerfile"] == "deploy/docker/llm-cpu.Dockerfile"


def test_cpu_file_runs_the_embedded_defaults() -> None:
    """The CPU file is `gmner serve` with no options: the stages' default backends on the CPU, the default
    profile's LLM served under its id through its API, the profile's knowledge settings and the runner's
    environment. The values are written in the compose file (they must override .env's GPU choices); this test
    keeps them equal to the embedded runner's."""
    services = compose_services("docker-compose.cpu.yml")
    embedded = EmbeddedSettings()
    for name in GPU_APPS:
        environment = service_environment(services[name])
        fields = APP_SETTINGS[name].model_fields
        prefix = f"GMNER_{name.upper()}_"
        assert environment[f"{prefix}BACKEND"] == fields["backend"].default, name
        assert environment[f"{prefix}DEVICE"] == fields["device"].default == "cpu", name
    runner_env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    runner_env["MALLOC_ARENA_MAX"] = "2"
    for name in APP_SETTINGS:
        assert service_environment(services[name]).items() >= runner_env.items(), name
    llm_name = embedded.bundled_llm_name
    assert services["llm"]["build"]["args"]["LLM"] == llm_name
    for name in ("ner", "expansion"):
        environment = service_environment(services[name])
        assert environment["GMNER_LLM_MODEL"] == embedded.served_llm_alias == bundled_llm(llm_name).alias
        assert environment["GMNER_LLM_API"] == embedded.served_llm_api
    assert service_environment(services["ner"]).items() >= embedded.stage_env().items()
    # llm-server.sh's defaults are the runner's (its thread default, half the CPUs, is the runner's too).
    script = (DOCKER_DIR / "llm-server.sh").read_text()
    assert f"${{LLAMA_PARALLEL:-{embedded.llm_parallel}}}" in script
    assert f"${{LLAMA_CONTEXT:-{embedded.llm_context}}}" in script
    assert "${LLAMA_THREADS:-$(($(nproc) / 2))}" in script


def test_build_arguments_default_to_the_dockerfiles_defaults(compose_file: str) -> None:
    """A base image left out of .env is the Dockerfile's own default, whichever way the image is built."""
    python_default = dockerfile_arg_defaults(DOCKER_DIR / "gateway.Dockerfile")["PYTHON_IMAGE"]
    for name, service in compose_services(compose_file).items():
        if "build" not in service:
            continue
        dockerfile_args = dockerfile_arg_defaults(ROOT / service["build"]["dockerfile"])
        for arg, value in service["build"].get("args", {}).items():
            assert arg in dockerfile_args, f"{name}: {arg} is no ARG of its Dockerfile"
            resolved = interpolate(value, {})
            if arg == "BASE_IMAGE" and compose_file == "docker-compose.cpu.yml":
                # The CPU stages build on the Python base instead of the CUDA one.
                assert resolved == python_default, name
            elif arg.endswith("_IMAGE") or arg == "BASE_IMAGE":
                assert resolved == dockerfile_args[arg], f"{name}: {arg}"


def test_every_app_reads_the_env_file(compose_file: str) -> None:
    for name, service in compose_services(compose_file).items():
        if name in APP_SETTINGS:
            assert service["env_file"] == ".env", name


def test_environment_variables_are_real_settings_of_their_app(compose_file: str) -> None:
    for name, service in compose_services(compose_file).items():
        if name not in APP_SETTINGS:
            continue
        valid = app_env_names(name)
        for key in service_environment(service):
            if key.startswith("GMNER_"):
                assert key in valid, f"{compose_file}: {name} sets {key}, which no setting of {name} reads"


def test_environment_values_are_valid_settings(compose_file: str) -> None:
    """Each app's settings build from .env.example plus what compose sets for it (types, patterns, ranges)."""
    example = env_example()
    for name, service in compose_services(compose_file).items():
        if name in APP_SETTINGS:
            environment = interpolate(service_environment(service), example)
            settings_for(name, {**example, **environment})


def test_compose_variables_are_documented_in_env_example(compose_file: str) -> None:
    documented = set(env_example(include_commented=True))
    used = interpolation_names(compose(compose_file))
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"


def test_env_example_settings_are_real_and_valid() -> None:
    every_setting = all_gmner_env_names()
    for values in (env_example(), env_example(include_commented=True)):
        unknown = sorted(k for k in values if k.startswith("GMNER_") and k not in every_setting)
        assert not unknown, f".env.example names settings no app has: {unknown}"
        for app in APP_SETTINGS:
            settings_for(app, values)


def test_llm_model_names_agree() -> None:
    # The default model name of the apps is what the bundled GGUF is served as in the CPU file.
    assert env_example()["GMNER_LLM_MODEL"] == LLMSettings.model_fields["model"].default


def test_compose_interpolation_gives_a_valid_compose_model(compose_file: str) -> None:
    """`docker compose config`-level validation without Docker: substitute .env.example, then parse with the
    compose-spec model (unknown keys, wrong types and undefined networks/volumes are errors)."""
    compose_spec = pytest.importorskip("compose_spec")
    resolved = interpolate(compose(compose_file), env_example())
    model = compose_spec.PyCompose.from_json(json.dumps(resolved))
    model.validate()
    assert set(model.service_names()) == set(compose_services(compose_file))


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _docker_compose_available(), reason="no `docker compose` plugin on this machine")
def test_docker_compose_config(compose_file: str, tmp_path: Path) -> None:
    # A project directory with .env made from .env.example, the rest linked to the repository.
    for entry in ROOT.iterdir():
        if entry.name not in (".env", ".git", ".venv"):
            (tmp_path / entry.name).symlink_to(entry)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        ["docker", "compose", "-f", compose_file, "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def _project_version() -> str:
    import tomllib

    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])
