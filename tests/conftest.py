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


# ---- PostgreSQL (synth/migrate tests) ------------------------------------------------------
# A real server for tests marked ``postgres``: $SCALEENV_PG_URL if set, else the local one
# .ci/postgres.sh starts (installing it when root). Skipped with the reason when neither
# works, unless $SCALEENV_REQUIRE_PG is set (CI), where that is a failure.


@pytest.fixture(scope="session")
def postgres_url() -> str:
    import os
    import subprocess

    def unavailable(reason: str) -> None:
        if os.environ.get("SCALEENV_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL required but unavailable: {reason}")
        pytest.skip(f"no PostgreSQL server: {reason}")

    url = os.environ.get("SCALEENV_PG_URL")
    if not url:
        script = ROOT / ".ci" / "postgres.sh"
        try:
            proc = subprocess.run(
                ["bash", str(script)], capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            unavailable(f"{script} could not run ({exc})")
        if proc.returncode != 0 or not proc.stdout.strip():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            unavailable(f"{script} exited {proc.returncode}: {tail}")
        url = proc.stdout.strip().splitlines()[-1]
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any connection problem means: no server
        unavailable(f"cannot connect to {url} ({str(exc).splitlines()[0]})")
    return url


@pytest.fixture
def postgres_db_url(postgres_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test server for one test; dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    name = f"scaleenv_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    request.addfinalizer(drop)
    return sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


# ---- end PostgreSQL -------------------------------------------------------------------------
