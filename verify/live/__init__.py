"""slpc.verify.live: `slpc validate`, live AWS accounts against the compiled spec.

`compare` is pure (no AWS). `fetch` and `analyzer` talk to AWS read-only and
import boto3 only when called; the command is `slpc.app.commands.validate`.
"""
