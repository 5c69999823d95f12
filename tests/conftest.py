"""Shared pytest setup. Fixtures live in tests/support/<concern>.py, one small file per concern;
the ones many modules use are registered here, so tests just name them."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest_plugins = ["tests.support.alsa", "tests.support.broker", "tests.support.pulse"]
