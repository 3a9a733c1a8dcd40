"""Browser steps: Playwright driving Debian's Chromium.

A :class:`BrowserPool` bounds how many Chromium processes run at once (a slow site
must not exhaust the machine); a run that needs a browser waits for a slot no longer
than its own timeout. Each run gets its own browser session, shared by the run's
browser steps (cookies carry over), traced from the start; when the run fails, a
screenshot and the Playwright trace are kept under the artefacts folder.

Core Web Vitals are measured in the page by performance observers installed before
any script of the page runs: LCP, CLS (largest session window), FCP, TTFB from the
navigation entry, and INP and FID from a scripted interaction.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from leadwatch.synthetic.context import MARKER_HEADER, USER_AGENT, RunContext, StepFailed
from leadwatch.synthetic.journey import BrowserAction, Vitals
from leadwatch.synthetic.meta import BROWSER_SCRIPT, PageMeta, meta_problems

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

    from leadwatch.settings import Settings

log = structlog.get_logger(__name__)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

VITALS_SCRIPT = """(() => {
  const v = window.__lwVitals = {LCP: null, CLS: 0, FCP: null, INP: null, FID: null};
  const watch = (type, each, extra) => {
    try { new PerformanceObserver(l => l.getEntries().forEach(each))
            .observe(Object.assign({type, buffered: true}, extra || {})); } catch (e) {}
  };
  watch('largest-contentful-paint', e => { v.LCP = e.startTime / 1000; });
  watch('paint', e => { if (e.name === 'first-contentful-paint') v.FCP = e.startTime / 1000; });
  let win = 0, first = 0, last = 0;
  watch('layout-shift', e => {
    if (e.hadRecentInput) return;
    if (win && e.startTime - last < 1000 && e.startTime - first < 5000) { win += e.value; }
    else { win = e.value; first = e.startTime; }
    last = e.startTime;
    v.CLS = Math.max(v.CLS, win);
  });
  const interaction = e => { if (e.interactionId || e.entryType === 'first-input')
                               v.INP = Math.max(v.INP || 0, e.duration / 1000); };
  watch('event', interaction, {durationThreshold: 16});
  watch('first-input', e => { v.FID = (e.processingStart - e.startTime) / 1000; interaction(e); });
})();"""

READ_VITALS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return Object.assign({}, window.__lwVitals || {},
                       {TTFB: nav ? Math.max(nav.responseStart, 0) / 1000 : null});
}"""


class BrowserPool:
    def __init__(self, size: int, chromium: Path, artifacts_dir: Path | None, keep: int = 200):
        self.size = size
        self.chromium = chromium
        self.artifacts_dir = artifacts_dir
        self.keep = keep
        self._slots = threading.BoundedSemaphore(size)

    @classmethod
    def from_settings(cls, settings: Settings) -> BrowserPool:
        s = settings.synthetic
        return cls(s.browser_pool_size, s.chromium_path,
                   s.artifacts_dir or settings.storage.data_dir / "synthetic", s.artifacts_keep)

    def session(self, ctx: RunContext) -> BrowserSession:
        if not self._slots.acquire(timeout=ctx.remaining()):
            raise StepFailed(f"no browser free within the journey's timeout ({self.size} in use)")
        try:
            return BrowserSession(self, ctx)
        except BaseException:
            self._slots.release()
            raise

    def release(self) -> None:
        self._slots.release()

    def prune(self) -> None:
        """Keep the artefacts of the newest ``keep`` failed runs."""
        if self.artifacts_dir is None or not self.artifacts_dir.is_dir():
            return
        runs = sorted(self.artifacts_dir.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in runs[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)


class BrowserSession:
    def __init__(self, pool: BrowserPool, ctx: RunContext):
        from playwright.sync_api import sync_playwright

        if not pool.chromium.exists():
            raise StepFailed(f"Chromium not found at {pool.chromium} (apt-get install chromium)")
        self.pool = pool
        self.ctx = ctx
        self._playwright: Playwright = sync_playwright().start()
        try:
            self._browser: Browser = self._playwright.chromium.launch(
                executable_path=str(pool.chromium), args=CHROMIUM_ARGS, headless=True
            )
            headers = {MARKER_HEADER: ctx.marker} if ctx.marker else {}
            self.context: BrowserContext = self._browser.new_context(
                extra_http_headers=headers, user_agent=f"{USER_AGENT} Chromium"
            )
            self.context.tracing.start(screenshots=True, snapshots=True)
            self.context.add_init_script(VITALS_SCRIPT)
            self.page: Page = self.context.new_page()
        except BaseException:
            self._playwright.stop()
            raise

    def close(self, keep_artifacts: bool) -> Path | None:
        """End the session; when the run failed, keep a screenshot and the trace."""
        kept = None
        try:
            if keep_artifacts and self.pool.artifacts_dir is not None:
                kept = self.pool.artifacts_dir / self.ctx.run_id
                kept.mkdir(parents=True, exist_ok=True)
                try:
                    self.page.screenshot(path=str(kept / "screenshot.png"), full_page=True,
                                         timeout=10_000)
                except Exception as exc:  # a crashed page has no screenshot; the trace still helps
                    log.info("synthetic_screenshot_failed", run=self.ctx.run_id, error=str(exc))
                self.context.tracing.stop(path=str(kept / "trace.zip"))
            else:
                self.context.tracing.stop()
            self._browser.close()
        finally:
            self._playwright.stop()
            self.pool.release()
        if kept is not None:
            self.pool.prune()
        return kept


def run_browser(actions: list[BrowserAction], ctx: RunContext) -> dict[str, Any]:
    from playwright.sync_api import Error as PlaywrightError

    if ctx.browsers is None:
        raise StepFailed("browser steps are not available here")
    if ctx.browser is None:
        ctx.browser = ctx.browsers.session(ctx)
    page = ctx.browser.page
    details: dict[str, Any] = {"actions": len(actions)}
    for i, action in enumerate(actions):
        page.set_default_timeout(ctx.remaining() * 1000)
        try:
            _act(page, action, ctx, details)
        except PlaywrightError as exc:
            message = str(exc).strip().splitlines()[0]
            raise StepFailed(f"action {i + 1} ({action.kind}): {message}", details) from None
        except StepFailed as exc:
            raise StepFailed(f"action {i + 1} ({action.kind}): {exc}", details | exc.details) from None
    details["url"] = page.url
    return details


def _act(page: Page, action: BrowserAction, ctx: RunContext, details: dict[str, Any]) -> None:
    kind = action.kind
    if kind == "goto":
        response = page.goto(ctx.text(action.goto or ""), wait_until="load")
        if response is not None and response.status >= 400:
            raise StepFailed(f"status {response.status} for {page.url}")
    elif kind == "click":
        page.click(ctx.text(action.click or ""))
    elif kind == "fill":
        for selector, value in (action.fill or {}).items():
            page.fill(ctx.text(selector), ctx.text(value))
    elif kind == "submit":
        page.locator(ctx.text(action.submit or "")).first.evaluate(
            "e => (e.form || e).requestSubmit()"
        )
        page.wait_for_load_state("load")
    elif kind == "wait_for_text":
        page.get_by_text(ctx.text(action.wait_for_text or "")).first.wait_for(state="visible")
    elif kind == "wait_for_selector":
        page.wait_for_selector(ctx.text(action.wait_for_selector or ""), state="visible")
    elif kind == "expect_meta":
        assert action.expect_meta is not None
        found = PageMeta.from_dict(page.evaluate(BROWSER_SCRIPT))
        problems = meta_problems(found, action.expect_meta)
        if problems:
            raise StepFailed("; ".join(problems))
    elif kind == "vitals":
        assert action.vitals is not None
        details["vitals"] = measure_vitals(page, action.vitals)
        over = {
            name: value
            for name, value in details["vitals"].items()
            if name in action.vitals.budget and value > action.vitals.budget[name]
        }
        if over:
            raise StepFailed("over budget: " + ", ".join(
                f"{n} {v:.3f} > {action.vitals.budget[n]:g}" for n, v in sorted(over.items())
            ))


def measure_vitals(page: Page, spec: Vitals) -> dict[str, float]:
    """The page's vitals (seconds; CLS unitless). LCP is final once the user
    interacts, so it is read after the load and the interaction; values the browser
    did not report (no contentful paint, no interaction) are left out."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_load_state("load")
    try:
        page.wait_for_function("() => window.__lwVitals && window.__lwVitals.LCP !== null",
                               timeout=5000)
    except PlaywrightTimeout:
        pass
    if spec.interact:
        page.locator(spec.interact).first.click(position={"x": 1, "y": 1})
        try:
            page.wait_for_function("() => window.__lwVitals.INP !== null", timeout=5000)
        except PlaywrightTimeout:
            pass
    values = page.evaluate(READ_VITALS)
    return {k: round(float(v), 4) for k, v in values.items() if v is not None}
