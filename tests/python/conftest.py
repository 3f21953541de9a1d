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


@pytest.fixture(scope="session", autouse=True)
def accounts(tmp_path_factory):
    """An accounts store (docs/access.md) with the first administrator and a data manager,
    made with the real `aim account` commands; every later `aim` run acts as the data
    manager (AIM_STORE, AIM_KEY_FILE in the environment)."""
    root = tmp_path_factory.mktemp("accounts")
    store, admin, manager = root / "access.db", root / "administrator.key", root / "data-manager.key"
    env = {k: v for k, v in os.environ.items() if k not in ("AIM_STORE", "AIM_KEY_FILE")}

    def run(*args: str) -> None:
        r = subprocess.run([aim_bin(), *args], capture_output=True, text=True, env=env, check=False)
        assert r.returncode == 0, f"aim {' '.join(args)}: {r.stdout}{r.stderr}"

    run("account", "init", "--store", str(store), "--email", "admin@test.example",
        "--name", "Test Administrator", "--organisation", "tests", "--key-out", str(admin))
    run("account", "add", "--store", str(store), "--key-file", str(admin),
        "--email", "data.manager@test.example", "--name", "Test Data Manager",
        "--organisation", "tests", "--role", "data-manager", "--key-out", str(manager))
    os.environ["AIM_STORE"] = str(store)
    os.environ["AIM_KEY_FILE"] = str(manager)
    yield {"store": store, "administrator": admin, "data-manager": manager}


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


def aim_has_build() -> bool:
    """True when the binary under test has the `build` command (docs/derived-data.md)."""
    return run_aim("build", "--help").returncode == 0


def run_build(wh) -> None:
    if not aim_has_build():
        pytest.skip(f"{aim_bin()} has no `build` command yet (`aim build --help` fails)")
    r = run_aim("build", "--warehouse", str(wh))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="session")
def built_derived(built):
    """The `built` warehouse after `aim build` (skipped when the binary has no `build`)."""
    run_build(built["warehouse"])
    return built


@pytest.fixture(scope="session")
def edge_built(tmp_path_factory):
    """Like `built`, with the edge cases of tests/python/edge_cases.py injected into the
    deliveries before ingest (corrections, overlaps, double billing, …)."""
    from edge_cases import inject

    root = tmp_path_factory.mktemp("aim-edge")
    deliveries, wh = root / "deliveries", root / "wh"
    r = run_aim("synth", "--persons", "3000", "--years", "2024", "--seed", "7", "--out", str(deliveries))
    assert r.returncode == 0, r.stderr
    expected = inject(deliveries, 2024)
    reference = os.environ.get("AIM_REFERENCE_DIR", str(REPO.parent / "shared" / "data"))
    r = run_aim("reference", "import", "--warehouse", str(wh), reference)
    assert r.returncode == 0, r.stderr
    r = run_aim("ingest", "--warehouse", str(wh), str(deliveries))
    assert r.returncode == 0, r.stdout + r.stderr
    return {"deliveries": deliveries, "warehouse": wh, "expected": expected, "root": root}


@pytest.fixture(scope="session")
def edge_derived(edge_built):
    """The edge-case warehouse after `aim build` (skipped when the binary has no `build`)."""
    run_build(edge_built["warehouse"])
    return edge_built


def aim_has_atlas() -> bool:
    """True when the binary under test has `aim atlas build` (docs/indicators.md)."""
    return run_aim("atlas", "build", "--help").returncode == 0


@pytest.fixture(scope="session")
def atlas_built(tmp_path_factory):
    """3,000 synthetic persons over 2023–2024 (seed 11), ingested, built, and the Atlas
    computed (`aim atlas build`); skipped when the binary has no `build` or `atlas`."""
    if not aim_has_build() or not aim_has_atlas():
        pytest.skip(f"{aim_bin()} has no `build` or `atlas build` command")
    root = tmp_path_factory.mktemp("aim-atlas")
    deliveries, wh = root / "deliveries", root / "wh"
    r = run_aim("synth", "--persons", "3000", "--years", "2023-2024", "--seed", "11", "--out", str(deliveries))
    assert r.returncode == 0, r.stderr
    reference = os.environ.get("AIM_REFERENCE_DIR", str(REPO.parent / "shared" / "data"))
    r = run_aim("reference", "import", "--warehouse", str(wh), reference)
    assert r.returncode == 0, r.stderr
    r = run_aim("ingest", "--warehouse", str(wh), str(deliveries))
    assert r.returncode == 0, r.stdout + r.stderr
    run_build(wh)
    r = run_aim("atlas", "build", "--warehouse", str(wh), "--reference", reference, "--no-age-groups")
    assert r.returncode == 0, r.stdout + r.stderr
    return {"deliveries": deliveries, "warehouse": wh, "stdout": r.stdout}
