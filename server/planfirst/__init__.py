"""planfirst: plan first, then execute — a language server for AI coding."""

__version__ = "0.1.0"
