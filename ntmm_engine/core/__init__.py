"""Errors, events, configuration, the run-folder layout and its safe writing, fingerprints, the job frame."""
