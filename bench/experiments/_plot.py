"""matplotlib for the experiment scripts, or None (with a note) when it is not installed."""

from __future__ import annotations

import sys


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install '.[experiments]'): no PNG", file=sys.stderr)
        return None
    return plt
