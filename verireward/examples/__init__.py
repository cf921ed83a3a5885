"""Runnable examples, one per trainer people use (``python -m verireward.examples.<name> --help``).
They live in the package, so they run wherever verireward is installed: ``trl_grca`` (needs trl)
and ``verl_grca`` (needs verl)."""
