"""Progress of the CLI's commands, shown with tqdm on stderr (quiet when stderr is not a terminal)."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """``total`` steps, each with a label. ``enabled=False`` shows nothing; so does a stderr that is
    not a terminal (tqdm's ``disable=None``): a log file gets no bar."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.done = total, 0
        self.bar = tqdm(total=total, file=sys.stderr, disable=None if enabled else True, leave=False,
                        dynamic_ncols=True)

    def step(self, label: str) -> None:
        self.done += 1
        self.bar.set_description_str(label[:60], refresh=False)
        self.bar.update(1)
        if self.done >= self.total:
            self.bar.close()
