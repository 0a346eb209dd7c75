"""``python -m ntmm_engine.cli``: the same as the ``ntmm`` command (used by torchrun and accelerate launch)."""

import sys

from .main import main

sys.exit(main())
