"""axe-core (vendored in ``tests/browser/vendor``) for accessibility checks in Chromium.

Use the ``axe_page`` fixture: our Content-Security-Policy (rightly) refuses the injected script
on an ordinary page, so audits run in a context that bypasses CSP; every other browser test runs
under the real policy.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def violations(page: Page) -> list[str]:
    """Serious and critical axe violations on the page, as readable lines."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
