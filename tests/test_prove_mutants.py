"""Mutation testing of `slpc prove`: every weakened (or broken) policy set must be refuted.

Each mutant changes the compiled example's documents the way a hand edit or a
compiler bug would. `slpc prove` must refute some property, and its
counterexample must be real: the evaluator, on the mutated artifacts as
`slpc explain` routes them, and the spec's meaning must disagree on it. The
mutation score is printed (`pytest -s`); a surviving mutant is a bug.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from slpc.app.pipeline import compile_text
from slpc.policy.document import Condition, Principal, Statement
from slpc.verify.deployment import Deployment
from slpc.verify.meaning import Meaning, Question
from slpc.verify.prove.properties import REFUTED, prove
from slpc.verify.prove.world import STAR, World

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sovereign_llm.slp"
INTRUDER = "arn:aws:iam::999988887777:role/intruder"
WEIGHTS, KEY, ECR, SCP = "s3/weights.json", "kms/model_key.json", "ecr/serving.json", "org/scp-1.json"


@pytest.fixture(scope="module")
def example():
    compiled = compile_text(EXAMPLE.read_text(), str(EXAMPLE))
    assert compiled.ok
    return compiled


def _edit(path: str, fn):
    """A mutant: `fn` maps the statements of the document at `path` to new statements."""
    def apply(artifacts):
        out = []
        for a in artifacts:
            if a.path == path:
                a = replace(a, document=replace(a.document, statements=tuple(fn(list(a.document.statements)))))
            out.append(a)
        return out
    return apply


def _each(sid: str, fn):
    return lambda sts: [fn(s) if s.sid == sid else s for s in sts]


def _drop(*sids: str):
    return lambda sts: [s for s in sts if s.sid not in sids]


def _conditions(fn):
    return lambda s: replace(s, conditions=tuple(c for c in (fn(c) for c in s.conditions) if c is not None))


def _add_principal(arn: str):
    """The key lets `arn` decrypt: named in a grantee's statement and spared by the deny to others."""
    add = lambda values: values + (arn,)  # noqa: E731
    return _edit(KEY, lambda sts: [
        replace(s, principal=Principal.aws(*add(s.principal.values("AWS"))))
        if s.sid == "InferenceReadWeightsReleasedKey" else
        _conditions(lambda c: c._replace(values=add(c.values)))(s) if s.sid == "DenyCryptoToOthers" else s
        for s in sts])


MUTANTS = {
    "drop the grantees' endpoint deny": _edit(WEIGHTS, _drop("DenyInferenceTrainerOutsideGrant")),
    "drop the network perimeter deny": _edit(WEIGHTS, _drop("DenyOutsideNetworks", "DenyInferenceTrainerOutsideGrant")),
    "widen a prefix": _edit(WEIGHTS, _each("DenyTrainerObjectsOutsidePrefixes",
                                           lambda s: replace(s, not_resources=("arn:aws:s3:::acme-llm-weights/*",)))),
    "add s3:* for an admin": _edit("iam/111122223333/security_admin.json", lambda sts: sts + [
        Statement("Allow", actions=("s3:*",), resources=("arn:aws:s3:::acme-llm-weights",
                                                         "arn:aws:s3:::acme-llm-weights/*"), sid="Widened")]),
    "drop kms:ViaService": _edit(KEY, _each("TrainerWriteWeightsCheckpointsKey", _conditions(
        lambda c: None if c.key == "kms:ViaService" else c))),
    "StringEquals -> StringLike with a wildcard": _edit(KEY, _each("InferenceReadWeightsReleasedKey", _conditions(
        lambda c: Condition("StringLike", c.key, ("s3.*.amazonaws.com",)) if c.key == "kms:ViaService" else c))),
    "remove IfExists": _edit(WEIGHTS, _each("DenyOutsideNetworks", _conditions(
        lambda c: c._replace(operator=c.operator.removesuffix("IfExists"))))),
    "add a principal": _add_principal(INTRUDER),
    "add an IAM user": _add_principal("arn:aws:iam::999988887777:user/intruder"),
    "add a role with a path": _add_principal("arn:aws:iam::999988887777:role/ops/team-a/intruder"),
    "drop the governance-bypass deny": _edit(WEIGHTS, lambda sts: [
        replace(s, actions=tuple(a for a in s.actions if a != "s3:BypassGovernanceRetention"))
        if s.effect == "Deny" else s for s in sts]),
    "drop the perimeter-change deny": _edit(ECR, _drop("DenyPerimeterChanges")),
    "drop an encryption deny": _edit(WEIGHTS, _drop("DenyNonKmsEncryption")),
    "drop the customer-key deny": _edit(WEIGHTS, _drop("DenyCustomerProvidedKeys")),
    "drop an expiry": _edit(WEIGHTS, lambda sts: [
        _conditions(lambda c: None if c.key == "aws:CurrentTime" else c)(s)
        for s in _drop("DenyEvaluatorOutsideGrant2")(sts)]),
    "drop a grantee's key statement": _edit(KEY, _drop("TrainerWriteWeightsCheckpointsKey")),
    "drop the ungranted-actions deny": _edit(WEIGHTS, _drop("DenyUngrantedObjectActions")),
    "Deny -> Allow on the old-signature statement": _edit(WEIGHTS, _each(
        "DenyOldSignatures", lambda s: replace(s, effect="Allow"))),
    "NotIpAddress -> IpAddress": _edit(ECR, _each("DenyDeployerOutsideGrant", _conditions(
        lambda c: c._replace(operator="IpAddressIfExists") if c.key == "aws:SourceIp" else c))),
    "ArnNotEquals -> ArnNotLike with a wildcard": _edit(ECR, _each("DenyImageActionsExceptDeployer", _conditions(
        lambda c: Condition("ArnNotLike", c.key, ("arn:aws:iam::111122223333:role/*",))))),
    "shorter lock period": _edit(WEIGHTS, _each("DenyRetentionBeyondLockPeriod", _conditions(
        lambda c: c._replace(values=("3650",))))),
    # SageMaker endpoints have no resource policy: in their account only the SCP stops an
    # administrator holding *:* from invoking them, or a grantee from outside its network
    "drop the SCP's deny of invoking to others": _edit(SCP, _drop("DenyChatActionsExceptChatFrontend")),
    "drop the SCP's deny of invoking outside the grant": _edit(SCP, _drop("DenyChatFrontendOutsideGrant")),
    "drop an endpoint policy's allow": _edit("vpce/vpce-01a2b3c4d5e6f7a80.json", _drop("AllowTrainer")),
    # the data-perimeter "service exemption" written with Bool instead of BoolIfExists: an anonymous
    # request has no aws:PrincipalIsAWSService, so every deny skips it; any role is still denied
    "public read behind Bool-exempted denies": _edit(WEIGHTS, lambda sts: [
        replace(s, conditions=s.conditions + (Condition("Bool", "aws:PrincipalIsAWSService", ("false",)),))
        if s.effect == "Deny" else s for s in sts] + [
        Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::acme-llm-weights/*",),
                  principal=Principal.any(), sid="PublicRead")]),
    # the same exemption written as AWS recommends it (BoolIfExists), with a service principal granted
    # without aws:SourceAccount: a confused deputy on the weights bucket
    "a service principal behind service-exempt denies": _edit(WEIGHTS, lambda sts: [
        replace(s, conditions=s.conditions + (Condition("BoolIfExists", "aws:PrincipalIsAWSService", ("false",)),))
        if s.effect == "Deny" else s for s in sts] + [
        Statement("Allow", actions=("s3:PutObject",), resources=("arn:aws:s3:::acme-llm-weights/*",),
                  principal=Principal(entries=(("Service", ("logging.s3.amazonaws.com",)),)), sid="ServiceLogs")]),
}


def _confirm(compiled, artifacts, cex) -> None:
    """The evaluator (as `slpc explain` routes requests) and the spec's meaning disagree on it."""
    ctx = {k: v[0] if len(v) == 1 else v for k, v in cex.context.items()}
    principal = None if cex.principal == "anonymous" else cex.principal  # as `slpc explain` reads it
    decision = Deployment.from_artifacts(artifacts).decide(
        principal, cex.action, cex.resource, ctx, extra_identity=(STAR,) if cex.star else ())
    permits = Meaning(compiled.model).permits(Question(principal, cex.action, cex.resource, ctx, cex.star))
    assert decision.allowed != permits, (cex, decision.explain())


_killed: list[str] = []


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_refuted_with_a_real_counterexample(example, name):
    artifacts = MUTANTS[name](example.artifacts)
    assert artifacts != list(example.artifacts), "the mutant changed nothing"
    world = World.from_artifacts(example.model, artifacts)
    refuted = []
    for number in range(1, 7):  # cheapest first; the first refutation kills the mutant
        refuted = [r for r in prove(world, timeout_ms=20_000, numbers=[number]) if r.verdict == REFUTED]
        if refuted:
            break
    assert refuted, f"mutant survived: {name}"
    for r in refuted:
        if r.counterexample is not None:
            _confirm(example, artifacts, r.counterexample.counterexample)
    _killed.append(name)
    print(f"\nmutation score: {len(_killed)}/{len(MUTANTS)} killed so far ({name}: "
          f"{', '.join(f'{r.prop.number}' for r in refuted)} refuted)")



# The key policy in its account-wide form (W352), which is exact only together with the
# bucket policies: what must stay in the key itself is "only through S3, only for the
# spec's buckets". Dropping either is refuted.
S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"
ACCOUNT_WIDE_KEY_MUTANTS = {
    "any bucket's objects": _edit(KEY, lambda sts: [
        _conditions(lambda c: c._replace(values=("*",)) if c.key == S3_CONTEXT else c)(s)
        for s in sts if s.sid != "DenyCryptoForOtherBuckets"]),
    "not only through S3": _edit(KEY, lambda sts: [
        _conditions(lambda c: None if c.key == "kms:ViaService" else c)(s)
        for s in sts if s.sid != "DenyCryptoNotThroughS3"]),
}


@pytest.fixture(scope="module")
def account_wide_key():
    from slpc.policy.limits import RULES
    from slpc.targets import key
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(key, "measure", lambda kind, doc: RULES[kind].limit + 1)
        compiled = compile_text(EXAMPLE.read_text(), str(EXAMPLE))
    assert compiled.ok and [a.coarser is not None for a in compiled.artifacts if a.path == KEY] == [True]
    return compiled


@pytest.mark.parametrize("name", sorted(ACCOUNT_WIDE_KEY_MUTANTS))
def test_account_wide_key_mutant_is_refuted_with_a_real_counterexample(account_wide_key, name):
    artifacts = ACCOUNT_WIDE_KEY_MUTANTS[name](account_wide_key.artifacts)
    assert artifacts != list(account_wide_key.artifacts), "the mutant changed nothing"
    refuted = [r for r in prove(World.from_artifacts(account_wide_key.model, artifacts), timeout_ms=20_000)
               if r.verdict == REFUTED]
    assert refuted, f"mutant survived: {name}"
    for r in refuted:
        if r.counterexample is not None:
            _confirm(account_wide_key, artifacts, r.counterexample.counterexample)
