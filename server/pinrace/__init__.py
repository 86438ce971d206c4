"""pinrace: a visualizer and checker of page-pin races in the Linux kernel."""

__version__ = "0.1.0"
