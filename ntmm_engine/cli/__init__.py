"""The ``ntmm`` command line."""
