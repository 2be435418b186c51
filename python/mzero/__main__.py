"""``python -m mzero`` is the ``mzero`` command."""

from mzero.cli import main

raise SystemExit(main())
