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


def finish(fig, ax, path, *, ylabel: str, xlabel: str = "", legend_size: int = 7, dpi: int = 110) -> None:
    """Label the axes, add the legend, and save the figure as a PNG."""
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
