"""Organizations guardrail rules: what SCPs and RCPs may not contain.

SCPs apply to the principals of member accounts, so they never name a principal.
RCPs apply to resources and, apart from the AWS-managed RCPFullAWSAccess, may
only deny, to ``Principal: "*"``, without NotAction or NotPrincipal. Access
Analyzer has no RCP policy type codes we could confirm, so the RCP ids follow
its SCP naming and are marked as slpc's own.
"""

from __future__ import annotations

from .registry import Context, FindingType, check

E = FindingType.ERROR


@check("SCP_SYNTAX_ERROR_PRINCIPAL", E, "An SCP statement with Principal or NotPrincipal.", policy_types={"scp"})
def scp_principal(ctx: Context):
    for s in ctx.statements:
        for name in ("Principal", "NotPrincipal"):
            if name in s.body:
                yield f"{s.path}.{name}", f"SCPs do not support {name}. Use the aws:PrincipalArn condition key instead."


@check("RCP_SYNTAX_ERROR_ALLOW", E, "An RCP statement with Effect Allow (RCPs may only deny).", access_analyzer=False, policy_types={"rcp"})
def rcp_allow(ctx: Context):
    for s in ctx.statements:
        if s.get("Effect") == "Allow":
            yield f"{s.path}.Effect", "RCPs support only Deny statements (Allow is reserved for RCPFullAWSAccess)."


@check("RCP_SYNTAX_ERROR_PRINCIPAL", E, 'An RCP statement whose Principal is not "*".', access_analyzer=False, policy_types={"rcp"})
def rcp_principal(ctx: Context):
    for s in ctx.statements:
        if "Principal" in s.body and s.get("Principal") != "*":
            yield f"{s.path}.Principal", 'RCPs require "Principal": "*". Scope principals with conditions such as aws:PrincipalArn.'


@check("RCP_SYNTAX_ERROR_NOTACTION", E, "An RCP statement with NotAction.", access_analyzer=False, policy_types={"rcp"})
def rcp_not_action(ctx: Context):
    for s in ctx.statements:
        if "NotAction" in s.body:
            yield f"{s.path}.NotAction", "RCPs do not support NotAction. List the denied actions in Action."


@check("RCP_SYNTAX_ERROR_NOTPRINCIPAL", E, "An RCP statement with NotPrincipal.", access_analyzer=False, policy_types={"rcp"})
def rcp_not_principal(ctx: Context):
    for s in ctx.statements:
        if "NotPrincipal" in s.body:
            yield f"{s.path}.NotPrincipal", 'RCPs do not support NotPrincipal. Use "Principal": "*" with conditions.'
