"""Layer 1 of the core: the workspace on disk. The one path gate (WorkspaceGuard), walking with
.gitignore chains, which names hold secrets, and which files configure tools (the trust policy).

Imports nothing else from the core (tests/test_layers.py)."""
