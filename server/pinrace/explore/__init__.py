"""Explore every schedule of a scenario under a model: outcomes, verdicts, counterexamples."""
