# The NER stage: spaCy (CPU) or a transformers token classifier (GPU), plus the LLM knowledge step.
# Build from the repository root: docker build -f deploy/docker/ner.Dockerfile -t gmner/ner:0.1.0 .
# The base and the install profile are build arguments. The GPU file (docker-compose.yml) keeps the defaults: a
# CUDA PyTorch base whose torch is the version requirements/torch.txt pins (2.14.1, CUDA 13.0 wheels), so the
# install keeps it, and the `models` profile. The CPU file builds on PYTHON_IMAGE with the profile of the
# embedded backend (ner: deploy/docker/requirements.py). Without Docker Hub, deploy/docker/offline-bases.sh
# builds stand-ins for both bases.
ARG BASE_IMAGE=pytorch/pytorch:2.14.1-cuda13.0-cudnn9-runtime
FROM ${BASE_IMAGE}
ARG INSTALL_PROFILE=models

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
RUN sh deploy/docker/install.sh "$INSTALL_PROFILE"

COPY shared/ shared/
COPY engines/ engines/
COPY services/ services/
COPY gateway/ gateway/
COPY gmner/ gmner/
# The trained embedded NER (`crf` backend) lives beside the code.
COPY models/ models/
RUN python -m pip install --no-deps -c deploy/docker/constraints.txt .

COPY deploy/docker/entrypoint.py deploy/docker/
RUN install -m 0755 deploy/docker/entrypoint.py /usr/local/bin/gmner-app

USER gmner
WORKDIR /models
VOLUME ["/models"]
ENV GMNER_NER_HOST=0.0.0.0 \
    GMNER_NER_CRF_MODEL=/opt/gmner/models/ner-crf-twitter-gmner \
    GMNER_NER_PORT=8001
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 CMD ["gmner-app", "health", "ner"]
CMD ["gmner-app", "serve", "ner"]
