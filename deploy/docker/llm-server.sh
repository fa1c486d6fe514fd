#!/bin/sh
# The LLM container's entrypoint: llama.cpp's llama-server with the flags `gmner serve` gives it
# (gmner/embedded/llm_server.py, llama_server_argv; tests/deploy checks that every flag there is here), on the GGUF
# and model id baked into the image (deploy/docker/bundled_llm.py). Extra arguments are appended.
#   LLAMA_PARALLEL  request slots decoded together in one batch (embedded default 4)
#   LLAMA_CONTEXT   context tokens per slot (embedded default 2048)
#   LLAMA_THREADS   CPU threads; default half the CPUs the container sees, as `gmner serve` (llama.cpp's threads
#                   spin-wait on each other: all the cores of a machine that also runs the stages is slower)
set -eu
parallel="${LLAMA_PARALLEL:-4}"
context="${LLAMA_CONTEXT:-2048}"
threads="${LLAMA_THREADS:-$(($(nproc) / 2))}"
[ "$threads" -ge 1 ] || threads=1
exec llama-server \
    --model /opt/models/model.gguf \
    --alias "$(cat /opt/models/alias)" \
    --host 0.0.0.0 \
    --port 8010 \
    --ctx-size "$((context * parallel))" \
    --parallel "$parallel" \
    --cont-batching \
    --threads "$threads" \
    --threads-batch "$threads" \
    --swa-full \
    --metrics \
    --no-webui \
    "$@"
