"""`python -m planfirst` is the `planfirst` command."""

from planfirst.cli import main

raise SystemExit(main())
