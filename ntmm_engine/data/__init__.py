"""Reading, checking, splitting, augmenting and previewing labelled text data."""
