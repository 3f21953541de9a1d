"""The signed-in pages in a real browser (docs/web-projects.md): a researcher signs in, files a
request through the project sheet form and submits it; an agency analyst signs in and moves it
through its states to the end; the quote is downloaded with the session. The accounts are
made with the real `aim account` commands in the store `aim serve` was given (AIM_STORE)."""

import os
import pathlib
import subprocess
import tomllib
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from selenium.webdriver.support.ui import Select

from conftest import REPO, aim_bin

PASSWORD = "a long browser-test password"
WORKFLOW = tomllib.loads((REPO / "crates/projects/data/workflow.toml").read_text())
STATE = {s["id"]: s["en"] for s in WORKFLOW["state"]}


@pytest.fixture(scope="module")
def people(accounts):
    made = {}
    for role, email in (("researcher", "r.janssens@uni.example"), ("agency-analyst", "an.analyst@agency.example")):
        r = subprocess.run(
            [aim_bin(), "account", "add", "--store", str(accounts["store"]),
             "--key-file", str(accounts["administrator"]), "--email", email,
             "--name", f"Test {role}", "--organisation", "tests", "--role", role,
             "--key-out", str(pathlib.Path(accounts["store"]).parent / f"{role}.key"),
             "--password-stdin"],
            input=PASSWORD + "\n", capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        made[role] = email
    return made


def sign_in(browser, server, email):
    browser.delete_all_cookies()
    browser.get(server + "/projects")
    assert "/login?next=%2Fprojects" in browser.current_url
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    submit(browser, browser.find_element(By.ID, "sign-in"))
    assert browser.current_url.endswith("/projects"), browser.page_source[:2000]
    assert email in browser.page_source


def submit(browser, button):
    """Clicks a form's button and waits for the next page (its elements replace the old)."""
    button.click()
    WebDriverWait(browser, 15).until(EC.staleness_of(button))


def state(browser):
    return browser.find_element(By.ID, "state").text


def move(browser, action, decision=None):
    if decision:
        form = browser.find_element(By.ID, f"move-{action}").find_element(By.XPATH, "..")
        form.find_element(By.NAME, "decision").send_keys(decision)
    submit(browser, browser.find_element(By.ID, f"move-{action}"))


def register(browser, kind):
    Select(browser.find_element(By.ID, "kind")).select_by_value(kind)
    browser.find_element(By.ID, "reference").send_keys(f"{kind}.pdf")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#add-document button"))


def test_a_request_from_filing_to_closure(browser, server, people):
    sign_in(browser, server, people["researcher"])
    browser.get(server + "/projects/new")
    fields = {
        "title": "GP contacts of the over-65s",
        "purpose": "Describe GP contacts by age and region",
        "legal_basis": "Scientific research (GDPR art. 89)",
        "variables": "GP contacts\nage group",
        "periods": "2023-2024",
        "population": "Insured persons of the sample aged 65 and over",
    }
    for name, value in fields.items():
        el = browser.find_element(By.ID, name)
        el.clear()
        el.send_keys(value)
    Select(browser.find_element(By.ID, "type")).select_by_value("sample-aggregate")
    submit(browser, browser.find_element(By.ID, "file"))
    assert "/projects/P-" in browser.current_url, browser.page_source[:3000]
    project = browser.current_url
    assert state(browser) == STATE["intake"]
    assert "missing" in browser.find_element(By.ID, "checklist").text
    register(browser, "project_sheet")
    move(browser, "submit")
    assert state(browser) == STATE["review"]
    # The researcher is offered no agency step.
    assert not browser.find_elements(By.ID, "move-accept")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form[action='/logout'] button"))
    assert "/login" in browser.current_url

    sign_in(browser, server, people["agency-analyst"])
    browser.get(project)
    for docs, action, to in (
        ([], "accept", "sample_committee"),
        (["ctep_opinion"], "approve", "contract"),
        (["cost_agreement"], "sign", "production"),
        ([], "deliver", "delivered"),
        ([], "close", "closed"),
    ):
        for d in docs:
            register(browser, d)
        move(browser, action)
        assert state(browser) == STATE[to], browser.page_source[:3000]
    history = browser.find_element(By.ID, "history").text
    assert people["agency-analyst"] in history and people["researcher"] in history

    # The quote, downloaded with the browser's session.
    cookie = browser.get_cookie("aim_session")
    assert cookie and cookie.get("httpOnly"), cookie
    req = urllib.request.Request(project + "/quote.xlsx",
                                 headers={"Cookie": f"aim_session={cookie['value']}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        assert r.read(2) == b"PK"
    # No Content-Security-Policy violation on the way.
    errors = [e for e in browser.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert not errors, errors
