"""The benchmark harness of imagesvc: ``make bench`` and ``make bench-scale`` (see the README)."""
