"""Fixtures of the web Atlas's browser and scanner tests: a small warehouse built with the real
`aim` binary (3,000 synthetic persons over 2023-2024), `aim serve` on a free port, and
headless Chromium driven through chromedriver (Selenium).

Environment: AIM_BIN (the binary, default target/debug/aim), AIM_REFERENCE_DIR (default
../shared/data), CHROMIUM_BIN and CHROMEDRIVER_BIN (default /usr/bin/chromium and
/usr/bin/chromedriver), AIM_BROWSER_WAREHOUSE (an existing warehouse with an Atlas, to skip
building one while developing the tests).
"""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
SHOTS = REPO / "target" / "browser-screenshots"
REFERENCE = os.environ.get("AIM_REFERENCE_DIR", str(REPO.parent / "shared" / "data"))
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
LEVELS = ["municipality", "district", "province", "region", "belgium"]
MASKED_FR = "cellule masquée"


def aim_bin() -> str:
    return os.environ.get("AIM_BIN", str(REPO / "target" / "debug" / "aim"))


def run_aim(*args: str) -> None:
    r = subprocess.run([aim_bin(), *args], capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"aim {' '.join(args)}: {r.stdout}{r.stderr}"


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
def warehouse(tmp_path_factory):
    given = os.environ.get("AIM_BROWSER_WAREHOUSE")
    if given:
        return pathlib.Path(given)
    if subprocess.run([aim_bin(), "serve", "--help"], capture_output=True).returncode != 0:
        pytest.skip(f"{aim_bin()} has no `serve` command")
    root = tmp_path_factory.mktemp("aim-web")
    deliveries, wh = root / "deliveries", root / "wh"
    run_aim("synth", "--persons", "3000", "--years", "2023-2024", "--seed", "7", "--out", str(deliveries))
    run_aim("reference", "import", "--warehouse", str(wh), REFERENCE)
    run_aim("ingest", "--warehouse", str(wh), str(deliveries))
    run_aim("build", "--warehouse", str(wh))
    run_aim("atlas", "build", "--warehouse", str(wh), "--reference", REFERENCE, "--no-age-groups")
    return wh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(warehouse):
    port = free_port()
    proc = subprocess.Popen(
        [aim_bin(), "serve", "--warehouse", str(warehouse), "--port", str(port), "--reference", REFERENCE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/static/atlas.css", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                out, err = proc.communicate()
                pytest.fail(f"aim serve did not start: {out}{err}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert f"Atlas: http://127.0.0.1:{port}/" in out


@pytest.fixture(scope="session")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            pytest.skip(f"{path} is missing (apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    profile = tempfile.mkdtemp(prefix="aim-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    # The console, to catch Content-Security-Policy violations.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


