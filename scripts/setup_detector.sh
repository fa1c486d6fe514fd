#!/usr/bin/env bash
# Installs the bundled COCO-80 detector's runtime (Node packages, with their TF.js graph-model weights) into
# var/detector-node, where the VE/VG `detector` backends look for it (GMNER_*_DETECTOR__NODE_MODULES overrides).
# Needs Node >= 18 and npm; safe to run again (npm skips what is already installed at these exact versions).
set -euo pipefail
cd "$(dirname "$0")/.."

dest="${GMNER_DETECTOR_NODE_DIR:-var/detector-node}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup_detector: node and npm are needed for the detector backends (apt-get install nodejs npm)" >&2
    exit 1
fi
mkdir -p "$dest"
if [[ ! -f "$dest/package.json" ]]; then
    echo '{"name": "gmner-detector-runtime", "private": true}' >"$dest/package.json"
fi
# Exact versions: the worker relies on this build's file layout (dist/human.node-wasm.js, models/*.json).
npm install --prefix "$dest" --no-audit --no-fund --save-exact --loglevel=error \
    @vladmandic/human@3.3.6 @tensorflow/tfjs-backend-wasm@4.22.0 @tensorflow/tfjs@4.22.0
test -f "$dest/node_modules/@vladmandic/human/models/centernet.json"
echo "setup_detector done: $dest/node_modules"
