"""``python -m btm``: the same as the ``btm`` command."""

from .cli import main

raise SystemExit(main())
