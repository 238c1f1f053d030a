"""Keep the C allocator's heap from holding freed memory through a long computation (glibc only).

glibc serves a large block from its heap unless the block is at least ``M_MMAP_THRESHOLD`` bytes;
that threshold starts at 128 KiB and *rises* to the size of every mmapped block freed, up to
32 MiB. A pandas column of 400,000 rows is 3.2 MB, so after the first such column is freed every
later one comes from the heap, and the holes the freed ones leave stay resident: after a
400,000-result ``btm analyze`` about 100 MiB of the process's memory is free heap it cannot
return. Fixing the threshold at 2 MiB gives each block of 2 MiB or more (a column of 262,144 or
more numbers) its own pages, returned to the system when the block is freed.

Measured on ``btm analyze`` of 400,000 results (2 CPUs, medians of three runs): peak resident
memory 387-395 MiB without, 363 MiB with, for about 0.5 s more (the new pages are mapped afresh).
Elsewhere (macOS, Windows, musl) :func:`fix_mmap_threshold` does nothing. No value changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["MMAP_THRESHOLD", "fix_mmap_threshold"]

MMAP_THRESHOLD = 2 << 20  # bytes
_M_MMAP_THRESHOLD = -3  # <malloc.h>


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` to ``size`` bytes (which also stops its rising); True when set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, size))
