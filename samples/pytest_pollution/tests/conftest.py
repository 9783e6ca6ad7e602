import os
import sys

import pytest


@pytest.fixture
def plugin_dir(tmp_path):
    # Forgets to take its directory off sys.path again: a leak, made in setup.
    sys.path.insert(0, str(tmp_path))
    return tmp_path


@pytest.fixture
def dollars():
    # A fixture that restores what it changed: not a leak.
    from inventory import SETTINGS
    old = SETTINGS["currency"]
    SETTINGS["currency"] = "USD"
    yield
    SETTINGS["currency"] = old
