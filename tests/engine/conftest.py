"""Shared fixtures for engine tests: the hand-made tiny_shop world of ``tinyshop``."""

from __future__ import annotations

import pytest
from tinyshop import load_tiny_spec, make_world

from engine.spec.models import DomainSpec
from engine.world import World


@pytest.fixture
def tiny_spec() -> DomainSpec:
    return load_tiny_spec()


@pytest.fixture
def tiny_world(tiny_spec: DomainSpec) -> World:
    return make_world(tiny_spec)
