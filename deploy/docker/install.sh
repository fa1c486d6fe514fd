#!/bin/sh
# Installs the pinned dependencies of one image profile (api | models | ner | detector | sam; see
# deploy/docker/requirements.py), in scripts/setup.sh's order: torch pinned first, the --no-deps packages last.
# Every step is constrained by deploy/docker/constraints.txt, so transitive dependencies are pinned too.
# Run from the build context root (pyproject.toml, requirements/ and deploy/docker/ copied there).
set -eu
profile="${1:?usage: install.sh api|models|ner|detector|sam}"
pip="python -m pip install --no-cache-dir --disable-pip-version-check -c deploy/docker/constraints.txt"
list="python deploy/docker/requirements.py"

# Checks the profile before anything is installed (exit 2 on a typo).
$list deps "$profile" >/tmp/requirements.txt
# A plain `torch` requirement would pull another build; the pin matches the CUDA base image's torch.
$list torch "$profile" >/tmp/torch.txt
if [ -s /tmp/torch.txt ]; then $pip -r /tmp/torch.txt; fi
$pip -r /tmp/requirements.txt
# Their metadata pins old torch/numpy/Pillow, yet they run on ours (see requirements/no-deps.txt).
$list no-deps "$profile" >/tmp/no-deps.txt
if [ -s /tmp/no-deps.txt ]; then $pip --no-deps -r /tmp/no-deps.txt; fi
rm -f /tmp/requirements.txt /tmp/torch.txt /tmp/no-deps.txt
