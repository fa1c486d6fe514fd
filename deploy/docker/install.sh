#!/bin/sh
# Installs the pinned dependencies of one image profile (api | models | llm), in scripts/setup.sh's order:
# torch pinned first, llama-cpp-python built with CMAKE_ARGS, the --no-deps packages last. Every step is
# constrained by deploy/docker/constraints.txt, so transitive dependencies are pinned too.
# Run from the build context root (pyproject.toml, requirements/ and deploy/docker/ copied there).
set -eu
profile="${1:?usage: install.sh api|models|llm}"
pip="python -m pip install --no-cache-dir --disable-pip-version-check -c deploy/docker/constraints.txt"

case "$profile" in
    api) ;;
    # A plain `torch` requirement would pull another build; the pin matches the base image's torch.
    models) $pip -r requirements/torch.txt ;;
    # A native build can use CPU instructions the machine running the image lacks.
    llm) CMAKE_ARGS="-DGGML_NATIVE=OFF" $pip -r requirements/llama.txt ;;
    *) echo "unknown profile: $profile" >&2; exit 2 ;;
esac

python deploy/docker/requirements.py "$profile" pyproject.toml > /tmp/requirements.txt
$pip -r /tmp/requirements.txt
if [ "$profile" = models ]; then
    # Their metadata pins old torch/numpy/Pillow, yet they run on ours (see requirements/no-deps.txt).
    $pip --no-deps -r requirements/no-deps.txt
fi
rm -f /tmp/requirements.txt
