"""slpc: the sovereign LLM policy compiler.

The stages live in sibling packages, each importing only those below it
(docs/architecture.md; checked by import-linter): ``slpc.dsl`` (text -> AST),
``slpc.compiler`` (AST -> checked Model), ``slpc.targets`` (Model -> policy
documents and artifacts), ``slpc.verify`` (what those documents mean),
``slpc.report`` (audit evidence) and ``slpc.app`` (the command line, on top).
``slpc.policy`` (the document model) and ``slpc.diagnostics`` are below them all.
"""

__version__ = "0.1.0"
