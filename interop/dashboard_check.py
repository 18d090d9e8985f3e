"""Opens ``sdds report dashboard`` in headless Chromium with the network off.

    python interop/dashboard_check.py --sdds target/debug/sdds --out target/dashboard

The bundled sample is synced into a temporary warehouse and its dashboard written (for
2026-11-01, the sample's reporting day).  Chromium (Debian's, driven by Playwright) opens the
file in an offline context: the page must load with no console error, no page error and no
request beyond the file itself, show its five sections and its charts, and fit a phone's width
without the page scrolling sideways (wide tables scroll inside their own box).  Screenshots at
desktop and phone widths, in light and dark mode, go to --out for a person to look at.
Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# As the probe of this machine starts it: no sandbox as root, and no background connections.
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SECTIONS = ["billed", "cash", "aging", "disbursements", "renewals"]
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdds", required=True)
    parser.add_argument("--out", required=True, help="directory for the screenshots")
    args = parser.parse_args()
    sdds = str(Path(args.sdds).resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sdds, "sync", "--quiet", "--warehouse", f"{tmp}/warehouse"], check=True)
        page_path = Path(tmp) / "dashboard.html"
        subprocess.run(
            [sdds, "report", "dashboard", "--warehouse", f"{tmp}/warehouse", "--today", "2026-11-01",
             "--out", str(page_path)],
            check=True,
        )
        url = page_path.resolve().as_uri()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                for name, (width, height) in VIEWPORTS.items():
                    for scheme in ("light", "dark"):
                        look(browser, url, name, width, height, scheme, out)
            finally:
                browser.close()
    print("dashboard check passed")


def look(browser, url: str, name: str, width: int, height: int, scheme: str, out: Path) -> None:
    context = browser.new_context(
        offline=True, viewport={"width": width, "height": height}, color_scheme=scheme
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: None if r.url == url else problems.append(f"request: {r.url}"))
    response = page.goto(url, wait_until="load")
    what = f"{name} {width}px {scheme}"
    check(response is not None and response.ok, f"{what}: the page loads offline")
    check(not problems, f"{what}: no console error, failed or outside request {problems}")
    found = [s for s in SECTIONS if page.locator(f"section#{s}").count() == 1]
    check(found == SECTIONS, f"{what}: sections {found}")
    charts = page.locator("figure.chart svg[role=img] title").count()
    check(charts >= 6, f"{what}: {charts} charts, each titled for screen readers")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    check(overflow <= 0, f"{what}: no sideways scrolling of the page ({overflow}px)")
    shot = out / f"dashboard-{name}-{scheme}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"     screenshot {shot}")
    context.close()


if __name__ == "__main__":
    sys.exit(main())
