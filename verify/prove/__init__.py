"""`slpc prove`: SMT proofs, over every request, that the policies implement the spec.

Kept apart in steps, each readable alone:
- `world`: the policies (compiled, or a directory in manifest layout), routed to
  requests as AWS routes them, and the request universe;
- `context` / `encode`: policy documents -> Z3 terms over one symbolic request,
  mirroring `slpc.verify.evaluate` (and AWS) rule for rule;
- `symbolic_meaning`: the spec's own meaning (`slpc.verify.meaning`) as Z3 terms;
- `roles`: who the spec lets obtain, pass and change each role, as Z3 terms;
- `properties`: the eight claims, each a set of solver queries (claim 8, the security groups, an exact
  check of their rules, `slpc.verify.security_groups`);
- `solver`: runs the queries (timeouts answer "unknown", never "proved") and
  replays every counterexample through the evaluator before reporting it.
- `results`: the results as the JSON and text `slpc prove` prints (the CLI is `slpc.app.commands.prove`).
"""
