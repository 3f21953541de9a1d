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


# The steps of each request type from intake to production (docs/projects.md), taken by
# the agency analyst who filed it: each document, then the action that needs it.
TO_PRODUCTION = {
    "population-aggregate": ["doc project_sheet", "submit", "doc cost_agreement", "accept",
                             "doc methodology", "feasible", "sign"],
    "sample-aggregate": ["doc project_sheet", "submit", "accept", "doc ctep_opinion", "approve",
                         "doc cost_agreement", "sign"],
}


@pytest.fixture(scope="session", autouse=True)
def accounts(tmp_path_factory):
    """An accounts store (docs/access.md) with the first administrator, a data manager and an
    agency analyst, and a population and a sample request taken to production by the analyst
    (the data manager their member), all made with the real `aim account` and `aim project`
    commands. Every later `aim` run acts as the data manager (AIM_STORE, AIM_KEY_FILE in the
    environment); a table is released for a project (`aim table --project`): `projects` maps
    `population` and `sample` to their identifiers."""
    root = tmp_path_factory.mktemp("accounts")
    store, admin, manager = root / "access.db", root / "administrator.key", root / "data-manager.key"
    analyst = root / "agency-analyst.key"
    env = {k: v for k, v in os.environ.items() if k not in ("AIM_STORE", "AIM_KEY_FILE")}

    def run(*args: str) -> str:
        r = subprocess.run([aim_bin(), *args], capture_output=True, text=True, env=env, check=False)
        assert r.returncode == 0, f"aim {' '.join(args)}: {r.stdout}{r.stderr}"
        return r.stdout

    run("account", "init", "--store", str(store), "--email", "admin@test.example",
        "--name", "Test Administrator", "--organisation", "tests", "--key-out", str(admin))
    for email, name, role, key in [
        ("data.manager@test.example", "Test Data Manager", "data-manager", manager),
        ("analyst@test.example", "Test Analyst", "agency-analyst", analyst),
    ]:
        run("account", "add", "--store", str(store), "--key-file", str(admin), "--email", email,
            "--name", name, "--organisation", "tests", "--role", role, "--key-out", str(key))
    as_analyst = ["--store", str(store), "--key-file", str(analyst)]
    example = (REPO / "examples" / "project-sheet.toml").read_text()
    projects = {}
    for kind, steps in TO_PRODUCTION.items():
        sheet = root / f"{kind}.toml"
        sheet.write_text(example.replace('type = "coded-data"', f'type = "{kind}"'))
        pid = run("project", "file", *as_analyst, "--sheet", str(sheet)).strip()
        for step in steps:
            if step.startswith("doc "):
                run("project", "add-document", *as_analyst, pid, step[4:])
            else:
                run("project", "move", *as_analyst, pid, step)
        run("project", "member", *as_analyst, pid, "--add", "data.manager@test.example")
        projects[kind.split("-")[0]] = pid
    os.environ["AIM_STORE"] = str(store)
    os.environ["AIM_KEY_FILE"] = str(manager)
    yield {"store": store, "administrator": admin, "data-manager": manager, "projects": projects}


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
