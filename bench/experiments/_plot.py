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
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)


def draw_panels(path, names, draw, *, ylabel: str, legend_size: int = 7, share_y: bool = True) -> None:
    """One panel per name, side by side (a shared y axis unless ``share_y=False``; ``draw(ax, name)``
    fills each), saved as a PNG; nothing without matplotlib."""
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(10, 3.6), sharey=share_y)
    for ax, name in zip(axes, names):
        draw(ax, name)
    finish(fig, axes[0], path, ylabel=ylabel, legend_size=legend_size)
