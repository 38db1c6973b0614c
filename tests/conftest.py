import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/strategies.py

EXAMPLE = ROOT / "examples" / "sovereign_llm.slp"


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text()
