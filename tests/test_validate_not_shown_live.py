"""Drift groups beyond the five shown per direction and policy are counted, against moto's
server: `slpc validate`'s text and JSON (and its exit status) on a bucket policy with
grants added, and the flow-log delivery role compared by `verify/live/flow_logs.py`."""

from __future__ import annotations

import io
import json

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

import live_fixtures as L  # noqa: E402

from slpc.app.commands import validate as command  # noqa: E402
from slpc.app.io import IO  # noqa: E402
from slpc.app.pipeline import compile_text  # noqa: E402
from slpc.policy.document import PolicyDocument, Statement, from_json, to_json  # noqa: E402
from slpc.verify.edges import questions  # noqa: E402
from slpc.verify.live.compare import EXTRA, compare, model_probes  # noqa: E402
from test_validate_live import args, art, live, server, spec_file  # noqa: E402,F401  (moto, the deployment)
from test_validate_flow_logs import DESTINATION, Net  # noqa: E402
from test_validate_not_shown import ALL, added  # noqa: E402


def test_command_text_and_json_count_the_extra_access_not_shown(live, spec_file):
    a = art(live, "s3/weights.json")
    deployed = added(a, 8)
    live.client("s3").put_bucket_policy(Bucket="live-llm-weights", Policy=json.dumps(to_json(deployed)))
    model = compile_text(live.spec, "live.slp").model
    every = [x for x in compare(deployed, a.document, a.kind, a.target, a.account, limit=ALL,
                                extra=model_probes(questions(model), a)) if x.direction == EXTRA]
    assert len(every) >= 8  # at least one group per added grant
    message = f"s3-bucket-policy: ... and {len(every) - 5} more groups of extra access on this policy not shown"

    out = io.StringIO()
    assert command.run(args(live, fmt="json", spec=spec_file), IO(out, io.StringIO()), session=L.session()) == 1
    mine = [f for f in json.loads(out.getvalue())["findings"] if f["artifact"] == a.path]
    assert [f["code"] for f in mine] == [EXTRA] * 6 and all("request" in f for f in mine[:5])
    assert (mine[5]["message"], mine[5]["not_shown"], mine[5]["severity"]) == (message, len(every) - 5, "error")

    out = io.StringIO()
    assert command.run(args(live, fmt="text", spec=spec_file), IO(out, io.StringIO()), session=L.session()) == 1
    lines = [line for line in out.getvalue().splitlines() if line.startswith(a.path + ":")]
    assert len(lines) == 6 and lines[5] == f"{a.path}: error extra-access (drift): {message}"


def test_the_delivery_roles_extra_access_beyond_five_is_counted(server):
    """Eight more actions on any log group, each its own statement: eight groups of extra access."""
    net = Net(server)
    actions = ("logs:DeleteLogGroup", "logs:DeleteLogStream", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
               "logs:TagLogGroup", "logs:UntagLogGroup", "logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter")
    wide = PolicyDocument(tuple(Statement("Allow", actions=(x,), resources=("*",), sid=f"Wide{i}")
                                for i, x in enumerate(actions)))
    net.iam.put_role_policy(RoleName=net.role["RoleName"], PolicyName="wide", PolicyDocument=json.dumps(to_json(wide)))
    role, account = net.role, next(a.account for a in net.artifacts if a.path == DESTINATION)
    deployed = PolicyDocument(from_json(role["Policy"]).statements + wide.statements)
    every = compare(deployed, from_json(role["Policy"]), "iam-identity-policy", role["Arn"], account, limit=ALL)
    assert len(every) >= 8 and {x.direction for x in every} == {EXTRA}
    found = [f for f in net.validate().findings if f.artifact == DESTINATION]
    assert [(f.code, f.not_shown) for f in found] == [(EXTRA, 0)] * 5 + [(EXTRA, len(every) - 5)]
    assert found[5].target == role["Arn"] and found[5].message == (
        f"logs-flow-log-destination: delivery role: ... and {len(every) - 5} more groups of extra access on this "
        f"policy not shown")
