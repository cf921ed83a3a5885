"""The ``verireward`` command line (the top layer): ``bench``, ``score`` and its pictures."""

from verireward.cli.main import main

__all__ = ["main"]
