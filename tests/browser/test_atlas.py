"""The web Atlas (`aim serve`, docs/atlas-web.md) in headless Chromium.

A session fixture builds a small warehouse with the real `aim` binary (3,000 synthetic
persons over 2023-2024, as tests/python/conftest.py does), computes its Atlas, starts
`aim serve` on a free port and drives Debian's Chromium through chromedriver (Selenium).
Screenshots are kept under target/browser-screenshots/. The front page's load time
(Navigation Timing) is printed, not asserted.

Environment: AIM_BIN (the binary, default target/debug/aim), AIM_REFERENCE_DIR (default
../shared/data), CHROMIUM_BIN and CHROMEDRIVER_BIN (default /usr/bin/chromium and
/usr/bin/chromedriver), AIM_BROWSER_WAREHOUSE (an existing warehouse with an Atlas, to skip
building one while developing the tests).
"""

import csv
import io
import json
import pathlib
import urllib.error
import urllib.request

import pytest

from conftest import LEVELS, MASKED_FR, REFERENCE, SHOTS  # noqa: F401
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def api(server, indicator="gp-contact", **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return json.loads(fetch(f"{server}/api/figures/{indicator}?{query}"))


def expected_areas() -> dict:
    """The number of areas of each level, from the reference data (not from the server)."""
    munis = json.loads((pathlib.Path(REFERENCE) / "municipalities-2025.json").read_text())
    return {
        "municipality": len(munis),
        "district": len({m["id"][:2] + "000" for m in munis}),
        "province": len({m["province"] for m in munis}),
        "region": len({m["region"] for m in munis}),
        "belgium": 1,
    }


def open_page(browser, url):
    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def test_front_page_renders_and_its_load_time_is_measured(server, browser, capsys):
    open_page(browser, server + "/")
    areas = browser.find_elements(By.CSS_SELECTOR, "svg.map path.area")
    assert len(areas) == expected_areas()["municipality"]
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    timing = browser.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return {ttfb: n.responseStart - n.startTime, response_end: n.responseEnd - n.startTime,"
        " dom_content_loaded: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime,"
        " html_bytes: n.decodedBodySize,"
        " resources: performance.getEntriesByType('resource').map(r => [r.name, r.decodedBodySize])};"
    )
    external = [name for name, _ in timing["resources"] if not name.startswith(server)]
    assert external == [], f"the page loaded external resources: {external}"
    browser.save_screenshot(str(SHOTS / "front-fr.png"))
    (SHOTS / "front-timing.json").write_text(json.dumps(timing, indent=2))
    with capsys.disabled():
        print(
            f"\nfront page: {timing['html_bytes'] / 1024:.0f} KiB of HTML, first byte {timing['ttfb']:.0f} ms, "
            f"DOMContentLoaded {timing['dom_content_loaded']:.0f} ms, load {timing['load']:.0f} ms; "
            f"resources: {[(pathlib.PurePosixPath(n.split('?')[0]).name, s) for n, s in timing['resources']]}"
        )
    # A phone-sized window: the map fits the width, the page does not scroll sideways.
    browser.set_window_size(390, 844)
    try:
        open_page(browser, server + "/indicator/gp-contact?level=district")
        width = browser.execute_script("return document.documentElement.clientWidth")
        svg = browser.find_element(By.CSS_SELECTOR, "svg.map").rect
        assert svg["width"] <= width + 1
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width + 1
        browser.save_screenshot(str(SHOTS / "phone-district.png"))
    finally:
        browser.set_window_size(1280, 1000)


def test_the_map_renders_every_level(server, browser):
    expected = expected_areas()
    for level in LEVELS:
        open_page(browser, f"{server}/indicator/gp-contact?level={level}")
        areas = browser.find_elements(By.CSS_SELECTOR, "svg.map path.area")
        assert len(areas) == expected[level], level
        # Every area is painted: a class colour, hatching or grey.
        classes = browser.execute_script(
            "return [...document.querySelectorAll('svg.map path.area')].map(p => p.getAttribute('class'))"
        )
        assert all(c.split()[1] in {"q0", "q1", "q2", "q3", "q4", "masked", "missing"} for c in classes)
        if level in ("municipality", "province"):
            browser.save_screenshot(str(SHOTS / f"map-{level}.png"))


def released_area_under_its_centre(browser):
    """A released area whose centre shows that same area (concave shapes excluded)."""
    return browser.execute_script(
        "for (const p of document.querySelectorAll('svg.map path.area[data-v]')) {"
        "  const r = p.getBoundingClientRect();"
        "  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        "  if (hit === p || (hit && hit.closest('.area') === p)) return p;"
        "}"
        "return null;"
    )


def test_hover_and_click_show_the_value(server, browser):
    open_page(browser, f"{server}/indicator/gp-contact?level=province")
    area = released_area_under_its_centre(browser)
    if area is None:
        pytest.skip("no released province on this small Atlas")
    code, name, shown = (area.get_attribute(a) for a in ("data-code", "data-name", "data-value"))
    shown = shown.replace("\u00a0", " ")  # WebDriver's text turns no-break spaces into spaces
    figure = next(f for f in api(server, level="province")["figures"] if f["area"] == code)
    assert figure["released"] is True
    assert abs(float(area.get_attribute("data-v")) - figure["standardised"]) < 1e-3
    tooltip = browser.find_element(By.ID, "tooltip")
    assert not tooltip.is_displayed()
    ActionChains(browser).move_to_element(area).perform()
    WebDriverWait(browser, 5).until(lambda d: tooltip.is_displayed())
    assert name in tooltip.text and shown in tooltip.text, tooltip.text
    browser.save_screenshot(str(SHOTS / "tooltip-hover.png"))
    # Leave the map: the tooltip goes; a click (a tap on a phone) shows it again, with a link.
    ActionChains(browser).move_to_element(browser.find_element(By.TAG_NAME, "h1")).perform()
    WebDriverWait(browser, 5).until(lambda d: not tooltip.is_displayed())
    ActionChains(browser).move_to_element(area).click().perform()
    WebDriverWait(browser, 5).until(lambda d: tooltip.is_displayed())
    assert name in tooltip.text and shown in tooltip.text, tooltip.text
    link = tooltip.find_element(By.TAG_NAME, "a").get_attribute("href")
    assert f"/area/province/{code}" in link
    assert "/indicator/gp-contact" in browser.current_url, "a first click does not navigate"
    browser.save_screenshot(str(SHOTS / "tooltip-click.png"))


def test_switching_language_changes_lang_and_title(server, browser):
    open_page(browser, f"{server}/indicator/gp-contact?level=district&year=2023")
    title_fr = browser.title
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    browser.find_element(By.CSS_SELECTOR, "a.lang-switch").click()
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nl"
    )
    assert browser.title != title_fr
    assert "huisarts" in browser.title.lower(), browser.title
    assert "level=district" in browser.current_url and "year=2023" in browser.current_url
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.map path.area")) == expected_areas()["district"]
    browser.save_screenshot(str(SHOTS / "indicator-nl.png"))


def test_the_csv_download_holds_the_figures_of_the_api(server, browser):
    open_page(browser, f"{server}/indicator/gp-contact")
    href = browser.find_element(By.CSS_SELECTOR, "a[href$='/download/gp-contact.csv']").get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(fetch(href).decode("utf-8"))))
    assert rows and all(r["indicator"] == "gp-contact" for r in rows)
    data = api(server)
    year = data["year"]
    mine = {
        r["area"]: r
        for r in rows
        if r["year"] == str(year) and r["level"] == "municipality" and r["sex"] == "all" and r["age_group"] == "all"
    }
    assert set(mine) == {f["area"] for f in data["figures"]}
    for f in data["figures"]:
        r = mine[f["area"]]
        assert (r["released"] == "true") == f["released"], f
        if f["released"]:
            assert int(r["persons"]) == f["persons"]
            for k in ("crude", "crude_low", "crude_high", "standardised", "standardised_low", "standardised_high"):
                if k in f:
                    assert abs(float(r[k]) - f[k]) < 1e-3, (k, r, f)


def test_no_released_number_below_the_threshold(server, browser):
    indicators = {}
    for i in json.loads(fetch(server + "/dcat.jsonld"))["dcat:dataset"]:
        doc = json.loads(fetch(f"{server}/download/{i['dct:identifier']}.json"))
        indicators[doc["indicator"]["id"]] = doc
        for f in doc["figures"]:
            if not f["released"]:
                numbers = {k: v for k, v in f.items() if k != "year" and isinstance(v, (int, float)) and not isinstance(v, bool)}
                assert numbers == {}, f
    text = fetch(server + "/download/all.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == sum(len(d["figures"]) for d in indicators.values())
    min_units = next(iter(indicators.values()))["policy"]["min_units"]
    released = 0
    for r in rows:
        if r["released"] == "true":
            released += 1
            persons = int(r["persons"])
            assert not 1 <= persons < min_units, r  # an empty cell (0) reveals nobody
            if indicators[r["indicator"]]["indicator"]["kind"] == "proportion":
                yes = round(float(r["numerator"]))
                assert not 1 <= yes < min_units, r
                assert not 1 <= persons - yes < min_units, r
        else:
            assert all(r[k] == "" for k in list(r)[7:]), r
    assert released > 0
    # On the map pages: a masked area has no number, a released one is released in the API.
    for level in ("municipality", "district"):
        open_page(browser, f"{server}/indicator/gp-contact?level={level}")
        shown = browser.execute_script(
            "return [...document.querySelectorAll('svg.map path.area')].map(p =>"
            " [p.dataset.code, p.getAttribute('class'), p.dataset.value, p.dataset.v || null])"
        )
        by_area = {f["area"]: f for f in api(server, level=level)["figures"]}
        for code, cls, value, v in shown:
            if "masked" in cls:
                assert value == MASKED_FR and v is None, (code, value, v)
                assert by_area[code]["released"] is False
            elif v is not None:
                assert by_area[code]["released"] is True and by_area[code]["persons"] >= min_units, code
        assert MASKED_FR in browser.page_source or all("masked" not in c for _, c, _, _ in shown)


def test_a_bad_indicator_gives_a_404_page(server, browser):
    with pytest.raises(urllib.error.HTTPError) as e:
        fetch(server + "/indicator/no-such-indicator?lang=nl")
    assert e.value.code == 404
    open_page(browser, server + "/indicator/no-such-indicator?lang=nl")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nl"
    assert "Pagina niet gevonden" in browser.find_element(By.TAG_NAME, "h1").text
    browser.save_screenshot(str(SHOTS / "404-nl.png"))
    with pytest.raises(urllib.error.HTTPError) as e:
        fetch(server + "/api/figures/gp-contact?level=county")
    assert e.value.code == 404
    assert json.loads(e.value.read())["error"] == "not found"


def test_pages_work_under_the_content_security_policy(server, browser):
    """Every kind of page, with its script and style sheet, under the strict CSP the server
    sends: the browser reports no violation, the script runs (the map's tooltip works) and
    the style sheet applies."""
    with urllib.request.urlopen(server + "/", timeout=30) as r:
        csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    browser.get_log("browser")  # forget earlier messages
    for path in [
        "/",
        "/indicators?q=vaccin",
        "/indicator/gp-contact?level=province&lang=nl",
        "/area/province/10000?indicator=gp-contact",
        "/data",
        "/about",
        "/terms",
        "/nope",
    ]:
        open_page(browser, server + path)
        violations = [
            e["message"]
            for e in browser.get_log("browser")
            if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
        ]
        assert violations == [], f"{path}: {violations}"
        # The style sheet applied (the header is laid out by atlas.css, not the default).
        assert browser.execute_script(
            "return getComputedStyle(document.querySelector('header.site')).display"
        ) != "inline"
    open_page(browser, server + "/indicator/gp-contact?level=province")
    area = released_area_under_its_centre(browser)
    if area is None:
        pytest.skip("no released province on this small Atlas")
    ActionChains(browser).move_to_element(area).perform()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "tooltip").is_displayed())
