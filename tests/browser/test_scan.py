"""A real web-vulnerability scanner against `aim serve`: Wapiti (from PyPI, installed by
scripts/test into .venv-scan) crawls the test warehouse's Atlas and attacks every page and
parameter it finds. The run must find nothing at medium level or above (Wapiti's levels:
0 info, 1 low, 2 medium, 3 high, 4 critical), vulnerabilities and anomalies (server errors,
timeouts) alike. Its JSON report is kept as target/wapiti/report.json (CI artefact).

Modules: Wapiti's defaults less `ssrf` (it needs Wapiti's own server on the internet) and
`ssl` (the Atlas is served over plain HTTP here; tests/hostile.rs covers TLS), plus `backup`,
`crlf`, `htaccess`, `methods` and `xxe`. Environment: WAPITI_BIN (default .venv-scan/bin/wapiti);
AIM_REQUIRE_SCANNER=1 (set by scripts/test) makes a missing scanner a failure, not a skip.
"""

import json
import os
import subprocess
import tempfile

import pytest
from conftest import REPO

WAPITI = os.environ.get("WAPITI_BIN", str(REPO / ".venv-scan" / "bin" / "wapiti"))
MODULES = (
    "backup,cookieflags,crlf,csp,exec,file,htaccess,http_headers,methods,permanentxss,"
    "redirect,sql,upload,xss,xxe"
)
REPORT_DIR = REPO / "target" / "wapiti"
SEEDS = [
    "/indicators?q=vaccin",
    "/indicator/gp-contact?year=2024&level=province&sex=F",
    "/indicator?id=gp-contact&year=2024&level=district",
    "/area/province/10000?indicator=gp-contact",
    "/api/figures/gp-contact?year=2024&level=region",
    "/download/gp-contact.csv",
    "/download/gp-contact.json",
    "/dcat.jsonld",
    "/data",
    "/about",
    "/terms",
    "/static/atlas.js",
    "/nope?lang=nl",
]
LEVELS = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}


def test_wapiti_finds_nothing_at_medium_or_above(server, capsys):
    if not os.path.exists(WAPITI):
        if os.environ.get("AIM_REQUIRE_SCANNER"):
            pytest.fail(f"{WAPITI} is missing (scripts/test installs wapiti3 into .venv-scan)")
        pytest.skip(f"{WAPITI} is missing (pip install wapiti3 into .venv-scan)")
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    report = REPORT_DIR / "report.json"
    report.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="aim-wapiti-") as state:
        cmd = [
            WAPITI,
            "-u", server + "/",
            "--scope", "folder",
            "-m", MODULES,
            # Every route family from the start, whatever the crawl reaches.
            *[a for path in SEEDS for a in ("-s", server + path)],
            "-d", "2",
            "--max-links-per-page", "10",
            "--max-files-per-dir", "15",
            # Bounded: the whole scan 10 minutes at most, each module 40 s.
            "--max-scan-time", "600",
            "--max-attack-time", "40",
            "--tasks", "4",
            "-t", "20",
            "--flush-session",
            "--store-session", state,
            "--store-config", state,
            "--no-bugreport",
            "-f", "json",
            "-o", str(report),
            "-v", "1",
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False)
    (REPORT_DIR / "wapiti.log").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, f"wapiti failed ({r.returncode}): {r.stdout[-3000:]}{r.stderr[-3000:]}"
    data = json.loads(report.read_text())
    found = []
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for category, items in (data.get(section) or {}).items():
            for item in items:
                found.append((item.get("level", 0), section, category, item.get("method"), item.get("path"), item.get("info")))
    crawled = len(data.get("infos", {}).get("crawled_pages", []) or []) or data.get("infos", {}).get("crawled_pages_nbr")
    with capsys.disabled():
        print(f"\nwapiti: {crawled} pages crawled; findings by level: "
              f"{ {LEVELS[l]: sum(1 for f in found if f[0] == l) for l in LEVELS} }; report {report}")
        for f in sorted(found, reverse=True)[:20]:
            print(f"  [{LEVELS.get(f[0], f[0])}] {f[1]}/{f[2]}: {f[3]} {f[4]} — {f[5]}")
    serious = [f for f in found if f[0] >= 2]
    assert serious == [], f"Wapiti findings at medium or above: {serious}"
