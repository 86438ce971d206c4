"""The litmus language: parse scenario text and compile it to per-CPU programs."""
