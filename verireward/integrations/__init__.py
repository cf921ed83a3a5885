"""Adapters for the RL trainers people use. ``verireward.integrations.trl``: reward functions and a
``GRPOTrainer`` subclass for TRL (importing it needs no TRL until the subclass is asked for)."""
