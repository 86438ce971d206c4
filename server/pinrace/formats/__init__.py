"""Formats: herd7's text, schedules, JSON results (and later links, email blocks, diagrams)."""
