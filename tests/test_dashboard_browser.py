"""The dashboard in a real browser: Debian's chromium, headless, driven by Selenium
through Debian's chromium-driver (nothing is downloaded at run time). Every page is
loaded against servers holding streams, groups, pending entries, channels and
clients made here, on Vermilion and on real Redis; the DOM must show their numbers.

A screenshot of each page is saved on every run, to pytest's temporary directory
(printed with -s), so a test run leaves the checkout clean. With
VERMILION_UPDATE_SCREENSHOTS=1 they replace docs/images/dashboard-*.png instead
(the README and docs/dashboard.md show them): set it to refresh them.

Without chromium these tests skip on a laptop and fail in CI (scripts/test installs it).
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import IN_CI, free_port, require_reference, wait_port

pytest.importorskip("aiohttp")

import vermilion  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DOC_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
UPDATE_SCREENSHOTS = os.environ.get("VERMILION_UPDATE_SCREENSHOTS", "") not in ("", "0")
WAIT = 30


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"browser tests need {reason} in CI (scripts/test installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium (pip)")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        _missing("chromium and chromium-driver (apt)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1360,1000", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield browser
    browser.quit()


def populate(r, pubsub_clients: list):
    """Streams, groups, pending entries, a dead letter, keys, channels and named clients."""
    r.flushall()
    base = int(time.time() * 1000) - 300_000       # entries from the last five minutes
    ids = [r.xadd("orders", {"item": f"book-{i}", "qty": str(i + 1)}, id=f"{base + i * 1000}-0")
           for i in range(5)]
    r.xgroup_create("orders", "billing", id="0")
    r.xgroup_create("orders", "shipping", id="$")
    r.xreadgroup("billing", "worker-a", {"orders": ">"}, count=2)
    r.xreadgroup("billing", "worker-b", {"orders": ">"}, count=1)
    r.xack("orders", "billing", ids[0])
    r.xadd("{orders}:dead", {"id": ids[3].decode(), "stream": "orders", "group": "billing",
                             "error": "card declined", "deliveries": "5", "f:item": "book-3"})
    r.xadd("events", {"type": "signup"})
    r.hset("user:1", mapping={"name": "ada", "role": "admin"})
    r.rpush("queue:mail", "a", "b", "c")
    r.set("session:abc", "token", ex=3600)
    r.zadd("leaderboard", {"alice": 1500, "bob": 1200})
    for _ in range(2):
        p = _redis_like(r).pubsub()
        p.subscribe("news")
        pubsub_clients.append(p)
    p = _redis_like(r).pubsub()
    p.psubscribe("orders.*")
    pubsub_clients.append(p)
    for p in pubsub_clients:
        p.get_message(timeout=1)
    named = _redis_like(r)
    named.client_setname("worker-1")
    pubsub_clients.append(named)
    return [i.decode() for i in ids]


def _redis_like(r):
    import redis
    return redis.Redis(port=r.get_connection_kwargs()["port"])


def until(driver, condition, message=""):
    """Wait for a state of the page (it re-renders while we look: a stale element
    is read again; a look that lands while the page navigates, as after the login
    form's submit, is made again on the new page)."""
    from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,
                                            WebDriverException)
    from selenium.webdriver.support.ui import WebDriverWait

    def look(d):
        try:
            return condition(d)
        except WebDriverException as exc:
            if "navigat" in (exc.msg or ""):
                return False
            raise
    return WebDriverWait(driver, WAIT, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                         ).until(look, message)


def texts(driver, css):
    """The text of every element matching `css`, read in one step."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent)", css)


def text_of(driver, css):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    try:
        return driver.find_element("css selector", css).text
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def click(driver, css):
    """Click what `css` matches; a live table re-rendered between the lookup and the
    click is looked up again."""
    def clicked(d):
        d.find_element("css selector", css).click()
        return True
    until(driver, clicked, f"{css} should be clickable")


def shows(driver, css, expected):
    return until(driver, lambda d: text_of(d, css) == expected,
                 f"{css} should show {expected!r} (shows {text_of(driver, css)!r})")


_shots: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def screenshot_dir(tmp_path_factory):
    """docs/images with VERMILION_UPDATE_SCREENSHOTS=1, else a temporary directory."""
    folder = DOC_IMAGES if UPDATE_SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    print(f"dashboard screenshots: {folder}")
    _shots.append(folder)
    yield folder
    _shots.remove(folder)


def screenshot(driver, name, save):
    if save:
        folder = _shots[-1]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"dashboard-{name}.png"
        assert driver.save_screenshot(str(path)) and path.stat().st_size > 0


def visit(driver, base, page):
    driver.get(base + "#" + page)
    driver.refresh()


def check_pages(driver, base, r, ids, save_screenshots=False, write=False):
    """Every page against the data of `populate`, then the numbers moving."""
    # Overview: the live charts get a point a second.
    visit(driver, base, "overview")
    until(driver, lambda d: int(d.find_element("id", "chart-ops").get_attribute("data-points") or 0) >= 2,
          "the ops/s chart should get points")
    first = int(driver.find_element("id", "chart-clients").get_attribute("data-points"))
    until(driver, lambda d: int(d.find_element("id", "chart-clients").get_attribute("data-points")) > first,
          "the live chart should keep updating")
    shows(driver, '#persistence-kv dd[data-field="fsync policy"]', r.config_get("appendfsync")["appendfsync"])
    shows(driver, '#keyspace tr[data-db="db0"] td:nth-child(2)', str(r.dbsize()))
    shows(driver, '#replication-kv dd[data-field="role"]', "master")
    until(driver, lambda d: text_of(d, "#ov-clients") == str(r.info("clients")["connected_clients"]),
          "the clients card should show INFO's connected_clients")
    screenshot(driver, "overview", save_screenshots)

    # Streams: length, IDs, groups with lag, pending, oldest pending, consumers; dead letters.
    visit(driver, base, "streams")
    shows(driver, 'tr[data-stream="orders"] td:nth-child(2)', "5")
    shows(driver, 'tr[data-stream="orders"] td.first', ids[0])
    shows(driver, 'tr[data-stream="orders"] td.last', ids[4])
    shows(driver, 'tr[data-stream="orders"] td.dead', "1")
    shows(driver, 'tr[data-group="orders/billing"] td.lag', "2")
    shows(driver, 'tr[data-group="orders/billing"] td.pending', "2")
    shows(driver, 'tr[data-group="orders/shipping"] td.lag', "0")
    until(driver, lambda d: "1 deliveries" in (text_of(d, 'tr[data-group="orders/billing"] td.oldest') or ""))
    until(driver, lambda d: "worker-a (idle" in (text_of(d, 'tr[data-group="orders/billing"] td.consumers') or ""))
    shows(driver, 'tr[data-stream="{orders}:dead"] .dead-of', "dead letters of orders")
    # A producer and a worker run: the page follows without a reload.
    for i in range(3):
        r.xadd("orders", {"item": f"new-{i}"})
    r.xreadgroup("billing", "worker-a", {"orders": ">"}, count=1)
    shows(driver, 'tr[data-stream="orders"] td:nth-child(2)', "8")
    shows(driver, 'tr[data-group="orders/billing"] td.lag', "4")
    shows(driver, 'tr[data-group="orders/billing"] td.pending', "3")
    until(driver, lambda d: (text_of(d, 'tr[data-stream="orders"] td.rate') or "…") not in ("…",),
          "the entries-added rate should be computed")
    screenshot(driver, "streams", save_screenshots)

    # One stream: latest entries and pending entries with delivery counts.
    click(driver, 'tr[data-stream="orders"]')
    until(driver, lambda d: len(d.find_elements("css selector", "#stream-entries tbody tr")) == 8)
    shows(driver, f'#pending-billing tr[data-id="{ids[1]}"] td:nth-child(4)', "1")
    shows(driver, f'#pending-billing tr[data-id="{ids[1]}"] td.consumer', "worker-a")
    assert bool(driver.find_elements("css selector", "button.action")) == write
    screenshot(driver, "stream", save_screenshots)

    # Pub/Sub: subscriber counts, and a message rate once something is published.
    visit(driver, base, "pubsub")
    shows(driver, 'tr[data-channel="news"] td.subs', "2")
    stop = threading.Event()

    def publish():
        while not stop.is_set():
            r.publish("news", "hello")
            stop.wait(0.05)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        until(driver, lambda d: (text_of(d, 'tr[data-channel="news"] td.rate') or "0") not in ("0", "—"),
              "the message rate of news should show")
    finally:
        stop.set()
        publisher.join()
    screenshot(driver, "pubsub", save_screenshots)

    # Keys: SCAN with a pattern and a type filter, TTLs, a capped preview.
    visit(driver, base, "keys")
    until(driver, lambda d: d.find_elements("css selector", 'tr[data-key="user:1"]'))
    field = driver.find_element("id", "keys-pattern")
    field.clear()
    field.send_keys("session:*")
    driver.find_element("id", "keys-search").click()
    until(driver, lambda d: texts(d, "#keys-table tbody tr td:first-child")
          == ["session:abc"])
    until(driver, lambda d: "min" in (text_of(d, 'tr[data-key="session:abc"] td.ttl') or ""))
    field.clear()
    field.send_keys("*")
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element("id", "keys-type")).select_by_value("hash")
    driver.find_element("id", "keys-search").click()
    until(driver, lambda d: texts(d, "#keys-table tbody tr td:first-child")
          == ["user:1"])
    click(driver, 'tr[data-key="user:1"]')
    until(driver, lambda d: "ada" in (text_of(d, "#key-card") or ""))
    screenshot(driver, "keys", save_screenshots)

    # Clients (sortable), slowlog, latency.
    visit(driver, base, "clients")
    until(driver, lambda d: "worker-1" in texts(d, "#clients-table td"))
    click(driver, 'th[data-sort="id"]')
    until(driver, lambda d: "asc" not in (d.find_element("css selector", 'th[data-sort="id"]').get_attribute("class")))
    until(driver, lambda d: (lambda ids: ids == sorted(ids, reverse=True) and len(ids) > 1)(
        [int(t.replace(",", "")) for t in texts(d, "#clients-table tbody tr td:first-child")]),
        "clicking the id header should sort by id, descending")
    assert bool(driver.find_elements("css selector", "button.action")) == write
    # LATENCY HISTOGRAM (Redis 7.0 and Vermilion have it): populate's XADDs show.
    screenshot(driver, "clients", save_screenshots)


@pytest.fixture
def pubsub_clients():
    clients: list = []
    yield clients
    for c in clients:
        c.close()


def histogram_shown(driver, r):
    """LATENCY HISTOGRAM's table (Redis 7.0 and Vermilion have it), busiest commands
    first (a shared server has run other tests' commands too: ours need not be on top)."""
    def busiest_shown(d):
        histogram = r.execute_command("LATENCY", "HISTOGRAM")
        busiest = sorted(histogram, key=lambda name: -histogram[name][b"calls"])[:3]
        shown = d.execute_script("return Array.from(document.querySelectorAll("
                                 "'#histogram-table tr[data-command]')).map(e => e.dataset.command)")
        return shown and any(name.decode() in shown[:5] for name in busiest)
    until(driver, busiest_shown, "the busiest commands should head the latency histogram")


def test_pages_on_vermilion(driver, pubsub_clients):
    with vermilion.embedded(dashboard_port=0, config={"slowlog-log-slower-than": "0"}) as srv:
        r = srv.client()
        ids = populate(r, pubsub_clients)
        check_pages(driver, srv.dashboard_url, r, ids, save_screenshots=True)
        histogram_shown(driver, r)
        r.close()


def test_pages_on_real_redis(driver, pubsub_clients, reference_server):
    import redis
    require_reference()
    r = redis.Redis(port=reference_server.port)
    ids = populate(r, pubsub_clients)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vermilion", "dashboard", "--url",
                             f"redis://127.0.0.1:{reference_server.port}/0", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port)
        check_pages(driver, f"http://127.0.0.1:{port}/", r, ids)
        histogram_shown(driver, r)
    finally:
        proc.terminate()
        proc.wait(10)
        r.flushall()
        r.close()


def test_write_actions_ask_first(driver, pubsub_clients):
    with vermilion.embedded(dashboard_port=0, dashboard_write=True) as srv:
        r = srv.client()
        ids = populate(r, pubsub_clients)
        base = srv.dashboard_url
        visit(driver, base, "stream/" + b"orders".hex())
        xack = f'#pending-billing tr[data-id="{ids[1]}"] button[data-action="xack"]'
        click(driver, xack)
        until(driver, lambda d: d.find_element("id", "confirm").is_displayed())
        driver.find_element("id", "confirm-cancel").click()        # cancelled: nothing happens
        assert r.xpending("orders", "billing")["pending"] == 2
        click(driver, xack)
        until(driver, lambda d: d.find_element("id", "confirm").is_displayed())
        driver.find_element("id", "confirm-ok").click()
        until(driver, lambda d: not d.find_elements("css selector", f'#pending-billing tr[data-id="{ids[1]}"]'))
        assert r.xpending("orders", "billing")["pending"] == 1
        # Replay a dead letter into its stream.
        visit(driver, base, "stream/" + b"{orders}:dead".hex())
        click(driver, 'button[data-action="replay"]')
        driver.find_element("id", "confirm-ok").click()
        until(driver, lambda d: r.xlen("{orders}:dead") == 0)
        assert r.xrevrange("orders", count=1)[0][1] == {b"item": b"book-3"}
        screenshot(driver, "write", True)
        r.close()


def test_login_form(driver):
    with vermilion.embedded(dashboard_port=0, config={"requirepass": "s3cret"}) as srv:
        driver.get(srv.dashboard_url)
        until(driver, lambda d: d.find_element("id", "login-pass"))
        driver.find_element("id", "login-pass").send_keys("wrong")
        driver.find_element("id", "login-submit").click()
        until(driver, lambda d: "invalid" in (text_of(d, "#login-error") or ""))
        driver.find_element("id", "login-pass").clear()
        driver.find_element("id", "login-pass").send_keys("s3cret")
        driver.find_element("id", "login-submit").click()
        until(driver, lambda d: int(d.find_element("id", "chart-ops").get_attribute("data-points") or 0) >= 1)
        driver.delete_all_cookies()
