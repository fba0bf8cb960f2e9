"""Checking a page's layout at a phone's width."""

import contextlib

from playwright.sync_api import TimeoutError as PlaywrightTimeout


def settled_width(page, fits: int) -> int:
    """The page's width once the resize has been laid out.

    Chart.js redraws its canvases for a new viewport from a ResizeObserver, some frames
    later on a busy machine: until then a canvas keeps the wider layout's width. So wait
    (3 s at most) for the page to fit in `fits` px, then measure.
    """
    fitting = f"() => document.documentElement.scrollWidth <= {fits}"
    with contextlib.suppress(PlaywrightTimeout):  # measured, and reported by the caller
        page.wait_for_function(fitting, timeout=3000)
    return page.evaluate("() => document.documentElement.scrollWidth")
