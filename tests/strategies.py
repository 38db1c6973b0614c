"""Hypothesis strategies for valid .slp specs, generated as ASTs.

Specs are valid by construction (names resolve, networks reach the assets' services,
admins never hold grants), so the properties exercise meaning, not error paths.
"""

from __future__ import annotations

import os

from hypothesis import settings
from hypothesis import strategies as st

from slpc.compiler import routes
from slpc.dsl import ast

MAIN_ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGIONS = ("eu-central-1", "eu-west-1")
PUBLIC_CIDRS = ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.128/25")
PREFIXES = ("", "released/", "released/v2/", "checkpoints/", "data", "r")
UNTILS = ("2031-01-01T00:00:00Z", "2032-06-30T12:00:00Z")
# Routes of API stages: exact and subtree paths, one method and ANY, the root, and near misses of each other.
ROUTES = ("", "POST /v1/chat", "POST /v1/chat/*", "GET /v1/*", "ANY /v1/chat", "DELETE /v1/chatx", "PUT /*")

EXAMPLES = int(os.environ.get("SLPC_PROPERTY_EXAMPLES", "200"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None)


def N(text: str) -> ast.Name:
    return ast.Name(text)


def S(value: str) -> ast.Str:
    return ast.Str(value)


def _hex(draw, n: int) -> str:
    return "".join(draw(st.lists(st.sampled_from("0123456789abcdef"), min_size=n, max_size=n)))


@st.composite
def specs(draw, max_grants: int = 6, duty_grants: bool = False, access_points: bool = False,
          api_extras: bool = False) -> ast.Spec:
    """A valid deployment; with `duty_grants`, every bucket's breakglass role also
    holds a grant of its own on that bucket (duties and grants must not cut into each other);
    with `access_points`, some buckets are reached through access points (`access_points always`);
    with `api_extras`, API stages may call the SageMaker endpoint as an integration role of
    their own (`backend`) and admit a Cognito pool's users from some networks (`authorizer`)."""
    regions = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True))
    name = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12))
    deployment = ast.Deployment(S(name), S(MAIN_ACCOUNT), tuple(S(r) for r in regions), S("aws"),
                                S("o-a1b2c3d4e5") if draw(st.booleans()) else None,
                                managed_policies=ast.Number(draw(st.integers(1, 20))) if draw(st.booleans()) else None)

    # networks: which services they reach
    service_sets = draw(st.lists(
        st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans()),
        min_size=1, max_size=3))
    networks, reach, stuck, net_region = [], {}, {}, {}
    used_vpce: set[str] = set()
    for i, (s3, ecr, kms, sm, api, cidr) in enumerate(service_sets):
        eps = []
        for svc, on in (("s3", s3), ("ecr.api", ecr), ("ecr.dkr", ecr), ("kms", kms), ("sagemaker.runtime", sm),
                        ("execute-api", api)):
            if on:
                vid = "vpce-" + _hex(draw, 17)
                while vid in used_vpce:
                    vid = "vpce-" + _hex(draw, 17)
                used_vpce.add(vid)
                # an S3 gateway endpoint reaches only its own region's buckets (E441), an interface
                # endpoint those of the region it serves (E448); both kinds where there is one region
                kind = draw(st.sampled_from((None, "gateway", "interface"))) if svc == "s3" and len(regions) == 1 \
                    else ("interface" if svc == "s3" else None)
                eps.append(ast.VpcEndpoint(N(svc), S(vid), type=N(kind) if kind else None))
        cidrs = (S(draw(st.sampled_from(PUBLIC_CIDRS))),) if cidr or not eps else ()
        acct = S(OTHER_ACCOUNT) if draw(st.booleans()) and eps else None
        vpc = S("vpc-" + _hex(draw, 17)) if eps else None
        region = S(draw(st.sampled_from(regions))) if eps and len(regions) > 1 else None
        net = ast.Network(N(f"net{i}"), acct, vpc, tuple(eps), cidrs, region=region)
        networks.append(net)
        reach[f"net{i}"] = {
            "bucket": s3 or bool(cidrs), "repository": ecr or bool(cidrs), "endpoint": sm or bool(cidrs),
            "api": api,  # private APIs are reached through their endpoints only
        }
        # a network's endpoints reach only its own region (E441, E448): grants through them stay there
        stuck[f"net{i}"] = {"bucket": s3, "repository": ecr, "endpoint": sm, "api": api}
        net_region[f"net{i}"] = region.value if region else regions[0]

    n_roles = draw(st.integers(2, 5))
    roles = [ast.Role(N(f"role{i}"), S(f"arn:aws:iam::{MAIN_ACCOUNT if i < 2 else draw(st.sampled_from((MAIN_ACCOUNT, OTHER_ACCOUNT)))}:role/r{i}"))
             for i in range(n_roles)]
    role_names = [r.name.text for r in roles]
    # admins and breakglass live in the deployment account (cross-account duties are refused)
    local = [r.name.text for r in roles if MAIN_ACCOUNT in r.arn.value]

    keys = []
    for i in range(draw(st.integers(1, 2))):
        region = draw(st.sampled_from(regions))
        uuid = f"{_hex(draw, 8)}-{_hex(draw, 4)}-{_hex(draw, 4)}-{_hex(draw, 4)}-{_hex(draw, 11)}{i}"
        admins = draw(st.lists(st.sampled_from(local), min_size=1, max_size=2, unique=True))
        keys.append(ast.Key(N(f"key{i}"), S(f"arn:aws:kms:{region}:{MAIN_ACCOUNT}:key/{uuid}"),
                            tuple(N(a) for a in admins)))

    assets: dict[str, tuple[str, set[str]]] = {}  # name -> (kind, names barred from grants)
    asset_region: dict[str, str] = {}  # for E441 and E448
    buckets = []
    for i in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        asset_region[f"bucket{i}"] = key.arn.value.split(":")[3]
        admins = draw(st.lists(st.sampled_from(local), max_size=2, unique=True))
        breakglass = draw(st.lists(st.sampled_from(local), max_size=1, unique=True))
        lock = ast.ObjectLock(N(draw(st.sampled_from(("governance", "compliance")))), draw(st.integers(1, 3650))) \
            if draw(st.booleans()) else None
        mode = draw(st.sampled_from(("always", "always", None, "never"))) if access_points else None
        buckets.append(ast.Bucket(N(f"bucket{i}"), S(f"model-bucket-{i}"), N(key.name.text), lock,
                                  (N("data_events"),) if draw(st.booleans()) else (),
                                  tuple(N(a) for a in admins), tuple(N(b) for b in breakglass),
                                  access_points=N(mode) if mode else None))
        assets[f"bucket{i}"] = ("bucket", set(admins) | {a.text for a in key.admins})
    repos = []
    for i in range(draw(st.integers(0, 2))):
        admins = draw(st.lists(st.sampled_from(local), max_size=2, unique=True))
        region = S(draw(st.sampled_from(regions))) if len(regions) > 1 else None
        repos.append(ast.Repository(N(f"repo{i}"), S(f"llm/serving-{i}"), region, tuple(N(a) for a in admins)))
        asset_region[f"repo{i}"] = region.value if region else regions[0]
        assets[f"repo{i}"] = ("repository", set(admins))
    endpoints = []
    for i in range(draw(st.integers(0, 1))):
        region = S(draw(st.sampled_from(regions))) if len(regions) > 1 else None
        endpoints.append(ast.Endpoint(N(f"chat{i}"), sagemaker=S(f"LLM-Chat-{i}"), region=region))
        assets[f"chat{i}"] = ("endpoint", set())
        asset_region[f"chat{i}"] = region.value if region else regions[0]
    # an execute-api endpoint reaches only its own region's APIs (E448)
    api_nets = [n for n in sorted(reach) if reach[n]["api"] and net_region[n] == regions[0]]
    for i in range(draw(st.integers(0, 2))):
        region = S(regions[0]) if len(regions) > 1 else None
        api_id = draw(st.sampled_from(("a1b2c3d4e5", "f6g7h8i9j0")))
        extras: dict = {}
        if api_extras and endpoints and endpoints[0].sagemaker and draw(st.booleans()):
            gateway = ast.Role(N(f"gateway{i}"), S(f"arn:aws:iam::{MAIN_ACCOUNT}:role/gateway{i}"), block=True,
                               assumed_by=(ast.Way(N("service"), N("apigateway")),),
                               passed_by=(ast.Pass(N(local[0]), N("apigateway")),))
            roles.append(gateway)
            extras |= {"backend": N(endpoints[0].name.text), "integration_role": N(gateway.name.text)}
        cognito = api_extras and api_nets and draw(st.booleans())
        if cognito:
            pool = f"arn:aws:cognito-idp:{regions[0]}:{MAIN_ACCOUNT}:userpool/{regions[0]}_Pool{i}"
            nets = draw(st.lists(st.sampled_from(api_nets), min_size=1, max_size=len(api_nets), unique=True))
            extras["authorizer"] = ast.Authorizer(N("cognito"), S(pool), (S("chat-api/invoke"),),
                                                  tuple(N(n) for n in nets))
        endpoints.append(ast.Endpoint(N(f"api{i}"), apigateway=S(api_id), stage=S(f"stage{i}"), region=region,
                                      **extras))
        asset_region[f"api{i}"] = region.value if region else regions[0]
        if not cognito:  # a Cognito stage's callers are its pool's users, never a role's grant (E350)
            assets[f"api{i}"] = ("api", set())

    verbs = {"bucket": ("read", "write", "list", "delete"), "repository": ("pull", "push"), "endpoint": ("invoke",),
             "api": ("invoke",)}
    grants = []
    duty = [(b.breakglass[0].text, b.name.text) for b in buckets if duty_grants and b.breakglass]
    for i in range(len(duty) + draw(st.integers(0, max_grants))):
        asset = duty[i][1] if i < len(duty) else draw(st.sampled_from(sorted(assets)))
        kind, barred = assets[asset]
        allowed = [r for r in role_names if r not in barred and (kind != "endpoint" or r in local)]
        nets = [n for n in sorted(reach) if reach[n][kind]
                and not (stuck[n].get(kind) and net_region[n] != asset_region.get(asset, net_region[n]))]
        if not allowed or not nets:
            continue
        principal = duty[i][0] if i < len(duty) else draw(st.sampled_from(allowed))
        if principal in barred:  # a breakglass role that also administers the bucket or its key
            continue
        chosen = draw(st.lists(st.sampled_from(nets), min_size=1, max_size=len(nets), unique=True))
        prefix = draw(st.sampled_from(PREFIXES if kind == "bucket" else ROUTES if kind == "api" else ("",)))
        until = draw(st.sampled_from((None,) + UNTILS))
        grant = ast.Allow(N(principal), N(draw(st.sampled_from(verbs[kind]))), N(asset), tuple(N(c) for c in chosen),
                          S(prefix) if prefix else None, S(until) if until else None)
        def clash(h):  # nested prefixes (E408) or overlapping routes (E344) with different networks or expiry
            a, b = (h.prefix.value if h.prefix else ""), prefix
            near = routes.overlap(a, b) if kind == "api" else a != b and (a.startswith(b) or b.startswith(a))
            return ((h.principal, h.asset) == (grant.principal, grant.asset) and near
                    and (h.networks, h.until) != (grant.networks, grant.until))
        if grant not in grants and not any(clash(h) for h in grants):
            grants.append(grant)

    decls = [deployment, *networks, *roles, *keys, *buckets, *repos, *endpoints, *grants]
    return ast.Spec(tuple(decls))


# --- who may obtain each role --------------------------------------------------------

TRUSTED = ("sagemaker", "bedrock", "ecs_tasks", "ec2", "lambda")
PERMISSION_SETS = ("SecurityAdmin", "DataScience")
GITHUB_PINS = (("environment", "production"), ("ref", "refs/heads/main"))
K8S = ("ml", "chat")


def _account_of(role: ast.Role) -> str:
    return role.arn.value.split(":")[4]


def _some(draw, names, max_size: int) -> list:
    return draw(st.lists(st.sampled_from(sorted(names)), max_size=max_size, unique=True)) if names else []


@st.composite
def trusted_specs(draw, max_grants: int = 3) -> ast.Spec:
    """A valid deployment (`specs`) whose roles say who may obtain them: some every way
    there is (services with their passers, EKS pods, IRSA, GitHub, Identity Center, other
    roles, other accounts), some nothing, some leave it unsaid."""
    spec = draw(specs(max_grants=max_grants))
    roles = [d for d in spec.declarations if isinstance(d, ast.Role)]
    accounts = {_account_of(r) for r in roles} | {MAIN_ACCOUNT}
    blocks = {r.name.text: draw(_role_block(r, roles, accounts)) for r in roles}
    return ast.Spec(tuple(blocks.get(d.name.text, d) if isinstance(d, ast.Role) else d for d in spec.declarations))


@st.composite
def _role_block(draw, role: ast.Role, roles: list[ast.Role], accounts: set[str]) -> ast.Role:
    if not draw(st.integers(0, 5)):
        return role  # its trust unsaid
    own = _account_of(role)
    ways: list[ast.Way] = []
    passes: list[ast.Pass] = []
    same = [r.name.text for r in roles if _account_of(r) == own and r is not role]
    for service in draw(st.lists(st.sampled_from(TRUSTED), max_size=2, unique=True)):
        ways.append(ast.Way(N("service"), N(service)))
        passes += [ast.Pass(N(p), N(service)) for p in _some(draw, same, 2)]
    if draw(st.booleans()):
        ns, sa = draw(st.sampled_from(K8S)), draw(st.sampled_from(K8S))
        cluster = f"arn:aws:eks:{REGIONS[0]}:{own}:cluster/c{draw(st.integers(0, 1))}"
        ways.append(ast.Way(N("eks_pod"), S(cluster), ((N("namespace"), S(ns)), (N("service_account"), S(sa)))))
        passes += [ast.Pass(N(p), N("eks_pod")) for p in _some(draw, same, 1)]
    if draw(st.booleans()):
        issuer = f"oidc.eks.{REGIONS[0]}.amazonaws.com/id/{draw(st.sampled_from(('A' * 32, 'B' * 32)))}"
        ways.append(ast.Way(N("irsa"), S(issuer), ((N("namespace"), S(draw(st.sampled_from(K8S)))),
                                                   (N("service_account"), S(draw(st.sampled_from(K8S)))))))
    if draw(st.booleans()):
        word, value = draw(st.sampled_from(GITHUB_PINS))
        ways.append(ast.Way(N("github"), S(f"acme/repo{draw(st.integers(0, 1))}"), ((N(word), S(value)),)))
    ways += [ast.Way(N("identity_center"), S(ps)) for ps in _some(draw, PERMISSION_SETS, 1)]
    others = [r.name.text for r in roles if r is not role]
    ways += [ast.Way(N("role"), N(other)) for other in _some(draw, others, 2)]
    ways += [ast.Way(N("account"), S(account)) for account in _some(draw, accounts - {own}, 1)]
    return ast.Role(role.name, role.arn, True, tuple(ways), tuple(dict.fromkeys(passes)))
