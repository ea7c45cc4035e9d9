"""The gateway over the demo directory (Wessex), served in process on free ports."""

from __future__ import annotations

import pytest

from directory import demo
from directory.service import Directory


@pytest.fixture
def demo_directory(directory: Directory) -> Directory:
    demo.seed(directory)
    return directory
