"""docs/ui-walkthrough.md in a real browser: headless Chromium (Debian's, driven by Playwright)
against a real Prefect server, the sandbox and a process worker (tests/ui/stack.py).

A person's path through the default (V2) UI, by what they see: Deployments → finance-wave → Run →
Custom run, the form's Stage select (the stages in order) and a text field cleared again, its
Target set to this sandbox, Submit; the run pauses for the stfincache01
approval; the owner approves (`plmigrate sandbox approve`); ⋮ → Resume with the form; the wave is
ready and the run pauses for the appliance (the deployment's stage is replicating); the appliance
is registered (`plmigrate sandbox register-appliance`); ⋮ → Resume; the run completes, and its
Artifacts tab has the servers table and the summary.

Run it with `make test-ui` (not part of `make test`: it needs Chromium and takes a minute or two).
Every wait has a deadline; on failure, a screenshot and the page's HTML of the failing step, and
every process's log, are kept in the directory the failure message names (PLMIGRATE_UI_KEEP=1
keeps it after a pass too, with screenshots of the form and the Resume dialog).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from plmigrate.lifecycle import ORDER
from plmigrate.model import load_business_unit
from tests.ui.stack import ROOT, Stack

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: the machine is shared, and a run waits for the worker's poll, its own process start,
# and (once resumed) the flow's approval poll (finance.yaml: 10 s).
UI_SECONDS = 30
RUN_SECONDS = 240


class Steps:
    """Named steps of the walk-through; a failing step leaves a screenshot and the page's HTML."""

    def __init__(self, page: Page, stack: Stack, shots: Path) -> None:
        self.page, self.stack, self.shots, self.count = page, stack, shots, 0
        self.seconds: dict[str, float] = {}

    def snap(self, name: str) -> None:
        """A screenshot kept whatever happens: what the form and the Resume dialog look like."""
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.count += 1
        started = time.monotonic()
        try:
            yield
            self.seconds[name] = time.monotonic() - started
        except Exception as exc:
            stem = self.shots / f"{self.count:02d}-{name}"
            try:
                self.page.screenshot(path=f"{stem}.png", full_page=True)
                Path(f"{stem}.html").write_text(self.page.content())
            except Exception as shot_error:  # the page itself may be gone
                Path(f"{stem}.txt").write_text(f"no screenshot: {shot_error}")
            logs = "\n".join(f"  {p}" for p in sorted(self.stack.tmp.glob("*.log")))
            raise AssertionError(
                f"UI step {name!r} failed: {exc}\nscreenshot and HTML: {stem}.png/.html\nprocess logs:\n{logs}"
            ) from exc


def resume(page: Page, fields: dict[str, str], says: str, steps: Steps, shot: str) -> None:
    """⋮ → Resume, fill the dialog's fields (by label, case-insensitive), press Resume. Pressed
    again, as a person would, if the dialog stays open: on a loaded machine the server's SQLite
    can answer "database is locked" to the resume."""
    from playwright.sync_api import expect

    deadline = time.monotonic() + RUN_SECONDS
    dialog = page.get_by_role("dialog")
    while True:
        page.get_by_role("button", name="Open menu").first.click()
        page.get_by_role("menuitem", name="Resume").click()
        for label, value in fields.items():
            dialog.get_by_label(re.compile(label, re.IGNORECASE)).fill(value)
        if says:
            expect(dialog).to_contain_text(says)
        steps.snap(shot)
        dialog.get_by_role("button", name="Resume", exact=True).click()
        try:
            expect(dialog).to_be_hidden(timeout=30_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            dialog.get_by_role("button", name="Cancel", exact=True).click()
            expect(dialog).to_be_hidden()
            if not page.get_by_text("Paused", exact=True).first.is_visible():
                return  # it was resumed after all


def open_artifact(page: Page, key: str) -> None:
    """The run's Artifacts tab, then the artifact's card. The tab lists what existed when the
    page loaded, so reload (as a person would) until the card shows, within RUN_SECONDS."""
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        page.get_by_role("tab", name="Artifacts").click()
        card = page.get_by_text(key, exact=True)
        try:
            card.wait_for(timeout=10_000)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            page.reload()
    card.click()


@pytest.fixture(scope="module")
def workdir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Our own temporary directory (pytest's basetemp is shared and rotated by other runs on the
    machine): removed after a pass unless PLMIGRATE_UI_KEEP=1, kept after a failure."""
    path = Path(tempfile.mkdtemp(prefix="plmigrate-ui-"))
    failed_before = request.session.testsfailed
    yield path
    if request.session.testsfailed == failed_before and os.environ.get("PLMIGRATE_UI_KEEP") != "1":
        shutil.rmtree(path, ignore_errors=True)
    else:
        print(f"\nUI test files (screenshots, process logs) kept in {path}")


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[Stack]:
    with Stack(workdir / "stack") as running:
        yield running


@pytest.fixture
def browser_page(stack: Stack) -> Iterator[Page]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="make test-ui installs playwright")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test-ui` installs it (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_SECONDS * 1000)
            yield page
        finally:
            browser.close()


@pytest.mark.timeout(900)  # the stack's start-up (~1 min) counts, and every step has its own deadline
def test_a_wave_from_the_form_pauses_is_resumed_and_reports(stack: Stack, browser_page: Page, workdir: Path) -> None:
    from playwright.sync_api import expect

    page = browser_page
    expect.set_options(timeout=UI_SECONDS * 1000)
    shots = workdir / "screenshots"
    shots.mkdir()
    steps = Steps(page, stack, shots)

    with steps.step("open-the-deployment"):
        page.goto(stack.ui)
        page.get_by_role("link", name="Deployments", exact=True).click()
        page.get_by_role("link", name="finance-wave", exact=True).first.click()
        page.wait_for_url(re.compile(r"/deployments/deployment/"))

    with steps.step("fill-the-form"):
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Custom run").click()
        # Only the fields this test needs, found by their labels: new optional fields may come.
        expect(page.get_by_label(re.compile(r"^Wave$"))).to_have_value("wave-01")
        # The Wave field's help lists the inventory's waves.
        waves = re.compile(r"finance\.csv has wave-01 \(36 servers\), wave-02 \(8 servers\)")
        expect(page.get_by_text(waves)).to_be_visible()
        # The Stage select: the deployment's preset, the stages in order; no string/None toggles.
        stage = page.get_by_role("button", name="Select Stage")
        expect(stage).to_have_text("replicating")
        stage.click()
        expect(page.get_by_role("option")).to_have_text(list(ORDER))
        page.keyboard.press("Escape")
        expect(stage).to_have_text("replicating")
        expect(page.get_by_text("Property is type")).to_have_count(0)
        # A plain text field typed into, then cleared, means "every server": the run below proves it.
        servers = page.get_by_label(re.compile(r"^Servers\b"))
        servers.fill("fin-web-01")
        servers.fill("")
        page.get_by_label(re.compile(r"^Target\b")).fill(f"sandbox:{stack.info}")
        run_name = page.get_by_label("Run Name").input_value()
        steps.snap("form")
        page.get_by_role("button", name="Submit", exact=True).click()

    with steps.step("open-the-run"):
        # Submit first creates the run on the server (slow on a loaded machine); then the UI goes
        # back to the deployment's page with a notice offering View run. Once the notice is gone,
        # the deployment's Runs tab lists the run by name.
        view_run = page.get_by_role("button", name="View run").first
        deadline = time.monotonic() + RUN_SECONDS
        while True:
            if view_run.is_visible():
                view_run.click()
                break
            if not re.search(r"/run(\?|$)", page.url):  # left the form, the notice is gone
                page.reload()
                page.get_by_role("link", name=run_name, exact=True).first.click()
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"no run {run_name} within {RUN_SECONDS} s of Submit")
            time.sleep(0.5)
        page.wait_for_url(re.compile(r"/runs/flow-run/"))
        expect(page.get_by_text(run_name, exact=True).first).to_be_visible()

    with steps.step("see-it-pause"):
        state = page.get_by_text("Paused", exact=True).first
        state.wait_for(timeout=RUN_SECONDS * 1000)
        page.get_by_role("tab", name="Artifacts").click()
        expect(page.get_by_text("approval-finance", exact=True)).to_be_visible()

    with steps.step("approve-as-the-owner"):
        approved = stack.approve("rg-storage-finance", "stfincache01", "ok by storage team")
        assert "Approved:" in approved and "stfincache01" in approved, approved

    with steps.step("resume-with-the-form"):
        resume(page, {r"^Approved by": "storage team (ui test)", r"^Note": "approved in the sandbox"},
               "Resume once the owner of stfincache01 has approved", steps, "resume-dialog")  # fmt: skip

    with steps.step("see-it-wait-for-the-appliance"):
        # The deployment's stage is replicating: the wave is ready, then the run pauses for the
        # appliance, not yet registered with the vault; its artifact names the exact step.
        open_artifact(page, "appliance-wait-finance-wave-01")
        page.wait_for_url(re.compile(r"/artifacts/artifact/"))
        expect(page.get_by_test_id("markdown-display")).to_contain_text("plmigrate sandbox register-appliance")
        page.go_back()
        page.wait_for_url(re.compile(r"/runs/flow-run/"))
        page.get_by_text("Paused", exact=True).first.wait_for(timeout=RUN_SECONDS * 1000)

    with steps.step("register-the-appliance"):
        vault_id = load_business_unit(ROOT / "deployments" / "finance.yaml").vault_id
        stack.register_appliance(vault_id, "appliance-fin-01")

    with steps.step("resume-after-registering"):
        resume(page, {r"^Registered by": "infra team (ui test)"}, "Who registered the appliance with the vault",
               steps, "resume-appliance-dialog")  # fmt: skip

    with steps.step("see-it-complete"):
        page.get_by_text("Completed", exact=True).first.wait_for(timeout=RUN_SECONDS * 1000)

    with steps.step("the-servers-table"):
        open_artifact(page, "wave-servers-finance-wave-01")
        page.wait_for_url(re.compile(r"/artifacts/artifact/"))
        row = page.get_by_role("row").filter(has_text="fin-web-01")
        expect(row).to_contain_text("ready")
        expect(row).to_contain_text("stfinrepl01")
        page.go_back()
        page.wait_for_url(re.compile(r"/runs/flow-run/"))

    with steps.step("the-summary"):
        open_artifact(page, "wave-summary-finance-wave-01")
        page.wait_for_url(re.compile(r"/artifacts/artifact/"))
        summary = page.get_by_test_id("markdown-display")
        expect(summary).to_contain_text("36 servers: 36 ready, 0 blocked")
        expect(summary.get_by_role("row").filter(has_text="stfincache01")).to_contain_text("Approved")
    # Shown with -s (docs/ui-walkthrough.md's measurements come from here).
    timings = stack.seconds | steps.seconds
    print("\n" + "\n".join(f"{name}: {seconds:.1f} s" for name, seconds in timings.items()))
