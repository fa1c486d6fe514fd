# The visual-grounding stage: person detector, OWLv2/Grounding DINO (GPU) or a VLM client.
# Build from the repository root: docker build -f deploy/docker/vg.Dockerfile -t gmner/vg:0.1.0 .
# The base and the install profile are build arguments. The GPU file (docker-compose.yml) keeps the defaults: a
# CUDA PyTorch base whose torch is the version requirements/torch.txt pins (2.14.1, CUDA 13.0 wheels), so the
# install keeps it, and the `models` profile. The CPU file builds on PYTHON_IMAGE with the profile of the
# embedded backend (detector: deploy/docker/requirements.py). Without Docker Hub, deploy/docker/offline-bases.sh
# builds stand-ins for both bases.
ARG BASE_IMAGE=pytorch/pytorch:2.14.1-cuda13.0-cudnn9-runtime
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG INSTALL_PROFILE=models

# The `detector` profile's npm packages (@vladmandic/human and TF.js, with their weights), installed by the same
# script as for `gmner serve`, with Debian's npm in a stage of its own so npm stays out of the image. Other
# profiles leave /opt/detector-node empty.
FROM ${PYTHON_IMAGE} AS detector
ARG INSTALL_PROFILE
COPY scripts/setup_detector.sh /opt/build/scripts/
RUN mkdir -p /opt/detector-node \
    && if [ "$INSTALL_PROFILE" = detector ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends nodejs npm \
        && GMNER_DETECTOR_NODE_DIR=/opt/detector-node bash /opt/build/scripts/setup_detector.sh; \
    fi

FROM ${BASE_IMAGE}
ARG INSTALL_PROFILE

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
# The detector's Node worker runs on Debian's Node.js (18: the worker needs 18+); only the runtime, no npm.
RUN if [ "$INSTALL_PROFILE" = detector ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends nodejs \
        && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=detector /opt/detector-node /opt/detector-node

COPY shared/ shared/
COPY engines/ engines/
COPY services/ services/
COPY gateway/ gateway/
COPY gmner/ gmner/
RUN python -m pip install --no-deps -c deploy/docker/constraints.txt .

COPY deploy/docker/entrypoint.py deploy/docker/
RUN install -m 0755 deploy/docker/entrypoint.py /usr/local/bin/gmner-app

USER gmner
WORKDIR /models
VOLUME ["/models"]
ENV GMNER_VG_HOST=0.0.0.0 \
    GMNER_VG_DETECTOR__NODE_MODULES=/opt/detector-node/node_modules \
    GMNER_VG_PORT=8004
EXPOSE 8004
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 CMD ["gmner-app", "health", "vg"]
CMD ["gmner-app", "serve", "vg"]
