import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/strategies.py

EXAMPLE = ROOT / "examples" / "sovereign_llm.slp"


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text()

# A private API Gateway stage with a same-account and a cross-account grantee.
API_SPEC = '''deployment "d" {
  account "111122223333"
  regions ["eu-central-1"]
}
network vpc {
  endpoint execute-api "vpce-00000000000000005"
  cidr "198.51.100.0/24"
}
role app "arn:aws:iam::111122223333:role/app"
role partner "arn:aws:iam::444455556666:role/partner"
endpoint chat_api {
  apigateway "a1b2c3d4e5"
  stage      "prod"
}
allow app invoke chat_api from vpc
allow partner invoke chat_api from vpc until "2030-01-01T00:00:00Z"
'''
