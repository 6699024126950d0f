"""Entry point of ``python -m signals``."""

from signals.cli import main

raise SystemExit(main())
