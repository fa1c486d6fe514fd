#!/usr/bin/env bash
# Builds llama.cpp's own OpenAI-compatible `llama-server` (continuous batching over parallel slots) from the
# llama.cpp source vendored in the llama-cpp-python sdist pinned in requirements/llama.txt, so the binary and
# the Python package are the same llama.cpp. The result is cached per version outside the repository; a second
# run finds it and exits at once. About 7 minutes on 2 cores.
#
#   scripts/build_llama_server.sh            # build (or reuse) and print the binary's path
#   GMNER_LLAMA_SERVER_JOBS=1 scripts/...    # fewer parallel compile jobs (default 2)
#   GMNER_EMBEDDED_CACHE_DIR=DIR scripts/... # builds go to DIR/llama-server/<version> (default ~/.cache/gmner),
#                                            # where `gmner serve` looks (same setting as the embedded runner's)
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON_FOR_BUILD:-.venv/bin/python}"
[[ -x "$python" ]] || python=python3
version="$(sed -n 's/^llama-cpp-python\(\[[a-z,]*\]\)\?==\([0-9.]*\).*/\2/p' requirements/llama.txt)"
if [[ -z "$version" ]]; then
    echo "build_llama_server: no llama-cpp-python==X pin in requirements/llama.txt" >&2
    exit 1
fi
cache="${GMNER_EMBEDDED_CACHE_DIR:-$HOME/.cache/gmner}/llama-server"
target="$cache/$version/bin/llama-server"
jobs="${GMNER_LLAMA_SERVER_JOBS:-2}"

if [[ -x "$target" ]] && "$target" --version >/dev/null 2>&1; then
    echo "$target"
    exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/llama-server-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The sdist is what pip builds llama-cpp-python from; its vendor/llama.cpp is the exact llama.cpp commit.
"$python" -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: \
    "llama-cpp-python==$version" -d "$work/sdist" >&2
tar -xzf "$work/sdist/llama_cpp_python-$version.tar.gz" -C "$work" "llama_cpp_python-$version/vendor/llama.cpp"
src="$work/llama_cpp_python-$version/vendor/llama.cpp"

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# GGML_NATIVE=OFF: a native build can emit instructions another machine's CPU lacks (as for the Python build).
# No network during the build: no curl/OpenSSL (the server only serves local files) and no web UI download
# from the Hugging Face bucket (the UI is not needed; the API is). Static libraries: one relocatable binary.
cmake -S "$src" -B "$work/build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF \
    >&2
cmake --build "$work/build" --target llama-server -j "$jobs" >&2

mkdir -p "$(dirname "$target")"
# Copy then rename, so a concurrent or interrupted run never leaves a half-written binary at $target.
cp "$work/build/bin/llama-server" "$target.tmp.$$"
mv -f "$target.tmp.$$" "$target"
"$target" --version >&2
echo "$target"
