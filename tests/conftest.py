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

# Scoped `invoke` grants on API routes: a same-account and a cross-account grantee on one
# stage (exact, subtree and ANY routes; two networks, one grant with an expiry), another stage.
ROUTES_SPEC = '''deployment "d" {
  account "111122223333"
  regions ["eu-central-1"]
}
network vpc {
  endpoint execute-api "vpce-00000000000000005"
}
network partner_vpc {
  account "444455556666"
  endpoint execute-api "vpce-00000000000000006"
}
role app "arn:aws:iam::111122223333:role/app"
role partner "arn:aws:iam::444455556666:role/partner"
endpoint assistant {
  apigateway "a1b2c3d4e5"
  stage      "prod"
}
endpoint assistant_dev {
  apigateway "a1b2c3d4e5"
  stage      "dev"
}
allow app     invoke assistant     "POST /v1/chat"      from vpc
allow app     invoke assistant     "GET /v1/models/*"   from vpc
allow partner invoke assistant     "POST /v1/chat"      from partner_vpc until "2030-01-01T00:00:00Z"
allow partner invoke assistant     "ANY /v1/status"     from vpc
allow app     invoke assistant_dev                       from vpc
'''

# An API stage in front of a SageMaker endpoint: API Gateway calls `chat` as `chat_gateway`.
BACKEND_SPEC = '''deployment "d" {
  account "111122223333"
  regions ["eu-central-1"]
}
network vpc {
  endpoint execute-api       "vpce-00000000000000005"
  endpoint sagemaker.runtime "vpce-00000000000000007"
}
role app "arn:aws:iam::111122223333:role/app"
role ops "arn:aws:iam::111122223333:role/ops"
role deployer "arn:aws:iam::111122223333:role/deployer" {
  assumed_by identity_center "Deployer"
  admins     [ops]
}
role chat_gateway "arn:aws:iam::111122223333:role/chat-gateway" {
  assumed_by service apigateway
  passed_by  deployer to apigateway
  admins     [ops]
}
endpoint chat {
  sagemaker "llm-chat-prod"
}
endpoint other {
  sagemaker "llm-other"
}
endpoint assistant {
  apigateway       "a1b2c3d4e5"
  stage            "prod"
  backend          chat
  integration_role chat_gateway
}
allow app invoke assistant "POST /v1/chat" from vpc
allow ops invoke other                     from vpc
'''

# An API whose `chat` stage admits a Cognito user pool's users from `vpc`, beside a stage
# granted to an IAM role from `partner_vpc`.
COGNITO_SPEC = '''deployment "d" {
  account "111122223333"
  regions ["eu-central-1"]
}
network vpc {
  endpoint execute-api "vpce-00000000000000005"
}
network partner_vpc {
  endpoint execute-api "vpce-00000000000000006"
}
role app "arn:aws:iam::111122223333:role/app"
endpoint chat {
  apigateway "a1b2c3d4e5"
  stage      "prod"
  authorizer cognito "arn:aws:cognito-idp:eu-central-1:111122223333:userpool/eu-central-1_AbCdEf123" scopes ["chat-api/invoke"] from vpc
}
endpoint admin {
  apigateway "a1b2c3d4e5"
  stage      "admin"
}
allow app invoke admin from partner_vpc
'''
