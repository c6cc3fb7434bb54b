"""Layer 4 of the core: edits. The text editor tool on an in-memory overlay, the str_replace
matching ladder, minimal edits and diffs, outlines of large files, and the executor that turns
(plan, step, files) into a proposed change through a model.

May import the layers below it (tests/test_layers.py)."""
