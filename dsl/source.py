"""Reading spec sources safely: size, encoding and binary checks before parsing.

A spec is untrusted input; it must fail with a diagnostic, never a traceback or a
runaway parse, whatever bytes it holds.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from slpc.diagnostics import DiagnosticsError, Span, error

MAX_BYTES = 8 * 1024 * 1024  # far above any real deployment (10,000 grants is ~1 MB)


@dataclass(frozen=True)
class Source:
    name: str  # the path as the user gave it, or "<stdin>"
    text: str
    data: bytes


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


def decode(name: str, data: bytes) -> Source:
    """Check and decode raw bytes; raises DiagnosticsError on unusable input."""
    def fail(code: str, msg: str, span: Span | None, hint: str) -> DiagnosticsError:
        return DiagnosticsError([error(code, msg, span, hint)])

    if len(data) > MAX_BYTES:
        raise fail("E002", f"file is too large ({len(data):,} bytes; the limit is {MAX_BYTES:,})",
                   Span(name, 1, 1, 1, 1), "split the deployment over several files, or check that this is a spec")
    if b"\x00" in data:
        line, col = _position(data, data.index(b"\x00"))
        raise fail("E003", "this is a binary file, not an .slp spec", Span(name, line, col, line, col + 1),
                   "slpc reads UTF-8 text")
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data  # the hash keeps the BOM
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position(body, exc.start)
        raise fail("E004", f"invalid UTF-8 (byte 0x{body[exc.start]:02x})", Span(name, line, col, line, col + 1),
                   "save the file as UTF-8") from None
    if not text.strip():
        raise fail("E005", "the file is empty", Span(name, 1, 1, 1, 1),
                   'a spec declares at least a `deployment "NAME" { ... }` block')
    return Source(name, text, data)


def read(path: str) -> Source:
    """Read a spec file, or standard input for "-"."""
    if path == "-":
        return decode("<stdin>", sys.stdin.buffer.read(MAX_BYTES + 1))
    p = Path(path)
    try:
        if p.is_dir():
            raise DiagnosticsError([error("E001", f"{path} is a directory, not a spec file", None,
                                          "name the .slp files, e.g. specs/*.slp")])
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DiagnosticsError([error("E001", f"cannot read {path}: {exc.strerror}", None,
                                      "check the path")]) from None
    return decode(path, data)
