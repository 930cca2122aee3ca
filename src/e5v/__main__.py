"""``python -m e5v``: the same as the ``e5v`` command."""

from __future__ import annotations

from e5v.cli import main

if __name__ == "__main__":
    main()
