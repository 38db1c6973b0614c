"""slpc.policy: the IAM policy-document model every stage shares.

The frozen document model and its JSON (`document`), AWS's size limits counted
AWS's way (`limits`), IAM wildcard matching (`matching`) and the table of
artifact kinds (`kinds`). Below the targets and the verifiers, so a verifier
reads documents without importing the code that writes them.
"""
