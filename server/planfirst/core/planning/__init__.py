"""Layer 5 of the core: making a plan. Scoped context, read-only exploration, the planner, the
critique pass, plan lint and its facts, and the cost estimate made before approval.

May import the layers below it (tests/test_layers.py)."""
