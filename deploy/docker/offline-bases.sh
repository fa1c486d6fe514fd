#!/usr/bin/env bash
# Builds stand-ins for the base images of deploy/docker from Debian packages, for a Docker engine that cannot pull
# from Docker Hub (air-gapped, or a registry mirror that lacks them). Needs root, debootstrap and a Debian mirror
# (and PyPI for --with-pytorch). The images get our own names, never an official tag, and the script prints the
# .env lines that select them and what differs from the official images.
#
#   deploy/docker/offline-bases.sh                 # gmner-base/debian, gmner-base/python, gmner-base/redis
#   deploy/docker/offline-bases.sh --with-pytorch  # also gmner-base/pytorch (the GPU file's stage images; ~6 GB)
#
#   DEBIAN_MIRROR=http://mirror.example/debian     # default http://deb.debian.org/debian
#   EXTRA_CA_DIR=DIR                               # *.crt files trusted inside the images (a TLS-intercepting
#                                                  # proxy's CA); default /usr/local/share/ca-certificates
# An image that already exists is kept; `docker rmi` it to rebuild.
set -euo pipefail

with_pytorch=0
case "${1:-}" in
    --with-pytorch) with_pytorch=1 ;;
    "") ;;
    *) echo "usage: $0 [--with-pytorch]" >&2; exit 2 ;;
esac

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ca_dir="${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
debian=gmner-base/debian:bookworm
python=gmner-base/python:3.11-bookworm
redis=gmner-base/redis:7.0-bookworm
pytorch=gmner-base/pytorch:2.14.1-bookworm
# The classic builder: BuildKit would fetch its Dockerfile frontend from Docker Hub.
export DOCKER_BUILDKIT=0

work="$(mktemp -d "${TMPDIR:-/tmp}/gmner-bases.XXXXXX")"
trap 'rm -rf "$work"' EXIT

exists() { docker image inspect "$1" >/dev/null 2>&1; }

if ! exists "$debian"; then
    command -v debootstrap >/dev/null || { echo "offline-bases: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    echo "offline-bases: debootstrap bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    # apt's own caches and lists would only bloat every image built on top.
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    tar -C "$work/rootfs" -c . | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$debian"
fi

# The CA certificates the builds inside the images need (pip, npm and apt through a TLS-intercepting proxy).
mkdir -p "$work/certs"
cp "$ca_dir"/*.crt "$work/certs/" 2>/dev/null || true

if ! exists "$python"; then
    cat >"$work/python.Dockerfile" <<EOF
FROM $debian
COPY certs/ /usr/local/share/ca-certificates/
# Debian's Python 3.11 with /usr/local as a virtual environment: python, pip and the installed packages are where
# the official image has them (/usr/local/bin, /usr/local/lib/python3.11/site-packages).
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \\
    && update-ca-certificates \\
    && python3 -m venv /usr/local \\
    && rm -rf /var/lib/apt/lists/*
# pip and Node read their own CA bundles unless told; these point them at the system's (with the certs above).
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \\
    LANG=C.UTF-8
CMD ["python3"]
EOF
    docker build -q -t "$python" -f "$work/python.Dockerfile" "$work"
fi

if ! exists "$redis"; then
    # The official image's entrypoint adds --protected-mode no when redis-server runs without a config file
    # (Debian's package would refuse every client from another container); this one does the same.
    cat >"$work/redis-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1:-}" = redis-server ]; then
    shift
    set -- redis-server --protected-mode no --bind '* -::*' "$@"
fi
exec "$@"
EOF
    cat >"$work/redis.Dockerfile" <<EOF
FROM $debian
RUN apt-get update \\
    && apt-get install -y --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/*
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
USER redis
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
    docker build -q -t "$redis" -f "$work/redis.Dockerfile" "$work"
fi

if ((with_pytorch)) && ! exists "$pytorch"; then
    # torch from PyPI: the Linux wheel is the CUDA build, its CUDA libraries (cuBLAS, cuDNN...) come as nvidia-*
    # wheels, as in the official pytorch image (which has them under conda instead).
    cat >"$work/pytorch.Dockerfile" <<EOF
FROM $python
RUN python -m pip install --no-cache-dir --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
EOF
    docker build -q -t "$pytorch" -f "$work/pytorch.Dockerfile" "$work"
fi

cat <<EOF

offline-bases: built. Put these lines into .env (docker compose reads them as build arguments):
PYTHON_IMAGE=$python
REDIS_IMAGE=$redis
EOF
((with_pytorch)) && echo "PYTORCH_IMAGE=$pytorch"
cat <<EOF

What differs from the official images (python:3.11.14-slim-bookworm, redis:7.4.2-alpine,
pytorch/pytorch:2.14.1-cuda13.0-cudnn9-runtime):
  - Python is Debian's 3.11.2 (official: 3.11.14), pip is Debian's ensurepip one; same paths (/usr/local/bin).
  - Redis is Debian's 7.0 on Debian (official: 7.4.2 on Alpine); the compose files use only what 7.0 has.
  - The pytorch stand-in has Debian's Python with torch 2.14.1 and its CUDA libraries from PyPI (official:
    conda's Python under /opt/conda, CUDA 13.0 and cuDNN 9 from the image).
  - PIP_CERT and NODE_EXTRA_CA_CERTS point at the system CA bundle, which holds the certificates of
    $ca_dir ($(ls "$work/certs" | wc -l) file(s)).
$(docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' --filter 'reference=gmner-base/*')
EOF
