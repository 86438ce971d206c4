"""The page-state engine: programs, states, transitions, and the memory models."""
