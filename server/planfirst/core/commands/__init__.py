"""Layer 2 of the core: running a step's validation commands. Splitting argv without a shell,
the allow-list and argv rules, the time-boxed process, redacting secrets from output.

May import core.workspace only (tests/test_layers.py)."""
