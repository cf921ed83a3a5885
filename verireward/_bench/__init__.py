"""Benchmark harness behind ``verireward bench`` (baselines and runner)."""
