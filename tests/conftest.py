"""Shared fixtures: paths to the curated domains."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ROOT / "fixtures" / "domains"
CURATED = ["airline", "retail", "bank"]


@pytest.fixture(scope="session")
def domains_dir() -> Path:
    return DOMAINS
