"""Shared fixtures: a small warehouse built by the real `aim` binary from synthetic data."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def aim_bin() -> str:
    return os.environ.get("AIM_BIN", str(REPO / "target" / "debug" / "aim"))


def run_aim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([aim_bin(), *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Synthesises 3,000 persons over 2024, imports the reference data and ingests."""
    root = tmp_path_factory.mktemp("aim")
    deliveries, wh = root / "deliveries", root / "wh"
    r = run_aim("synth", "--persons", "3000", "--years", "2024", "--seed", "7", "--out", str(deliveries))
    assert r.returncode == 0, r.stderr
    reference = os.environ.get("AIM_REFERENCE_DIR", str(REPO.parent / "shared" / "data"))
    r = run_aim("reference", "import", "--warehouse", str(wh), reference)
    assert r.returncode == 0, r.stderr
    r = run_aim("ingest", "--warehouse", str(wh), str(deliveries))
    assert r.returncode == 0, r.stdout + r.stderr
    return {"deliveries": deliveries, "warehouse": wh}
