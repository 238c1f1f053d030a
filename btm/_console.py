"""The command line's surroundings: what it prints and how it is stopped.

* :class:`Printable`: the streams a command prints to show control characters from the data as
  escapes (``\\x1b``), so a label holding a terminal escape sequence is never echoed raw;
* :class:`Terminated`: SIGTERM raised as an exception (like Ctrl-C), so that every output staged
  by :class:`btm.io.outputs.OutputSet` is cleaned up on the way out.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

__all__ = ["Printable", "Terminated", "command_environment"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that every staged output is cleaned up on the way out."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


class Printable:
    """A text stream that writes control characters as escapes; newlines and tabs are kept."""

    _TABLE = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]}

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text.translate(self._TABLE))

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


@contextlib.contextmanager
def command_environment() -> Iterator[None]:
    """Printable stdout/stderr and a SIGTERM handler for the duration of one command."""
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Printable(sys.stdout), Printable(sys.stderr)
    try:
        old = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: no handler to install
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        sys.stdout, sys.stderr = streams
