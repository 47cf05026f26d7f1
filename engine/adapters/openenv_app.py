"""The OpenEnv server app for the world in ``$SCALEENV_WORLD`` (what ``openenv.yaml`` points
at): openenv-core's own when installed, else the protocol server of ``openenv_ws``. A module of
its own, so the environment and the protocol server do not import each other."""

from __future__ import annotations

import os
from typing import Any

from engine.adapters.openenv_env import HAVE_OPENENV, WORLD_ENV, create_server_app
from engine.adapters.openenv_ws import OpenEnvServer


def __getattr__(name: str) -> Any:
    """``app``: built on first access from ``$SCALEENV_WORLD``."""
    if name == "app":
        path = os.environ.get(WORLD_ENV)
        if not path:
            raise AttributeError(f"set ${WORLD_ENV} to a world directory to serve it")
        if HAVE_OPENENV:
            return create_server_app(path)
        return OpenEnvServer(path).app
    raise AttributeError(name)
