"""Helpers shared by the tests and nothing else: the fake host, the LSP harness, scripted
model helpers, plan fixtures, workspace files, the one wait_until and the demo script."""
