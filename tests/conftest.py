"""Shared pytest setup. Fixtures live in tests/support/<concern>.py and are imported by the
test modules that use them, so each concern's fixtures stay in one small file."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
