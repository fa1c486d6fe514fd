# The expansion stage: an LLM client only, so no CUDA base and no GPU.
# Build from the repository root: docker build -f deploy/docker/expansion.Dockerfile -t gmner/expansion:0.1.0 .
# The base is a build argument (PYTHON_IMAGE in .env): a pinned slim Python, since the api profile has no torch
# and nothing to compile. Without Docker Hub, deploy/docker/offline-bases.sh builds a stand-in.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/models/hf \
    TORCH_HOME=/models/torch \
    XDG_CACHE_HOME=/models/cache

# A non-root user owns the model cache; the volume mounted on /models inherits this ownership.
RUN groupadd --gid 10001 gmner \
    && useradd --uid 10001 --gid gmner --no-create-home --home-dir /models --shell /usr/sbin/nologin gmner \
    && mkdir -p /models /opt/gmner \
    && chown gmner:gmner /models

WORKDIR /opt/gmner
# Dependencies first (a layer that survives code changes), pinned by pyproject.toml, requirements/ and
# deploy/docker/constraints.txt.
COPY pyproject.toml ./
COPY requirements/ requirements/
COPY deploy/docker/install.sh deploy/docker/requirements.py deploy/docker/constraints.txt deploy/docker/
RUN sh deploy/docker/install.sh api

COPY shared/ shared/
COPY engines/ engines/
COPY services/ services/
COPY gateway/ gateway/
COPY gmner/ gmner/
RUN python -m pip install --no-deps -c deploy/docker/constraints.txt .

COPY deploy/docker/entrypoint.py deploy/docker/
RUN install -m 0755 deploy/docker/entrypoint.py /usr/local/bin/gmner-app

USER gmner
ENV GMNER_EXPANSION_HOST=0.0.0.0 \
    GMNER_EXPANSION_PORT=8002
EXPOSE 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 CMD ["gmner-app", "health", "expansion"]
CMD ["gmner-app", "serve", "expansion"]
