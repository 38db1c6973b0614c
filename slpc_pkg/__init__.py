"""slpc: the sovereign LLM policy compiler.

The stages live in sibling packages: ``slpc.dsl`` (text -> AST),
``slpc.compiler`` (AST -> checked Model, and the CLI driver),
``slpc.targets`` (Model -> policy documents and artifacts) and
``slpc.verify`` (what those documents mean).
"""

__version__ = "0.1.0"
