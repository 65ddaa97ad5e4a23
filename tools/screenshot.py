"""Screenshot a static HTML page (or one element of it) with headless Chromium.

Used to make the README's picture of the decision page from a real fusionkit report::

    python tools/screenshot.py reports/demo.html docs/decision.png --selector .fk-decision

Exit status: 0 on success, 1 when the page or the element cannot be captured, 2 when no
headless browser is available (the message says what to install).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fusionkit.testing.browser import browser_unavailable, screenshot


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, take the screenshot, print where it went.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the HTML file to render")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--selector", help="CSS selector of the element to capture")
    parser.add_argument("--width", type=int, default=1400, help="window width (px)")
    parser.add_argument("--height", type=int, default=2000, help="window height (px)")
    args = parser.parse_args(argv)

    reason = browser_unavailable()
    if reason:
        print(f"screenshot: {reason}", file=sys.stderr)
        return 2
    try:
        path = screenshot(
            args.page, args.out, selector=args.selector, width=args.width, height=args.height
        )
    except (FileNotFoundError, LookupError) as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
