"""Layer 3 of the core: validation output (pytest, ruff, mypy, tsc, ...) turned into problems.

base.py holds the Problem type, python.py and tools.py the parsers, parse.py runs them in order.
May import core.workspace and core.commands (tests/test_layers.py)."""
