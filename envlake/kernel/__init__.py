"""The kernel: settings, the lake filesystem, contracts, the vocabulary, the ``_meta`` records.

It imports nothing else of envlake; every other layer builds on it."""
