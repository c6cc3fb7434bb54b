"""Layer 6 of the core: the workflow the faces drive. The Session, plans before execution
(plans.py), the step state machine (stepper.py, review.py, undo.py, late_apply.py), records and
revisions, checks, budget and the contracts with the faces (contracts.py).

The top of the core: it may import every layer below; nothing in the core imports it
(tests/test_layers.py)."""
