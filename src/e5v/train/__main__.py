"""``python -m e5v.train CONFIG [overrides] [--resume]``: the ``e5v train`` command.

For several processes: ``accelerate launch -m e5v.train CONFIG ...`` (GPUs) or
``torchrun --nproc_per_node N -m e5v.train CONFIG ...`` (CPUs too).
"""

from __future__ import annotations

import sys

from e5v.cli import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
