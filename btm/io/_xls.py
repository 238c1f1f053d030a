"""Old-style .xls workbooks (OLE2 compound files): the error cells readers show as empty."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from ._base import OLE_MAGIC

_XLS_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
# a FORMULA record whose cached result is an error, or a BOOLERR record holding an error
_XLS_ERROR_RECORD = re.compile(rb"\x06\x00..[\x00-\xff]{6}\x02\x00[\x00-\xff]\x00\x00\x00\xff\xff|\x05\x02\x08\x00[\x00-\xff]{7}\x01", re.S)


def xls_error_cells(p: Path) -> dict[str, list[tuple[int, int, str]]]:
    """Error cells (#DIV/0!, #N/A …) of an .xls workbook by sheet name, as (row0, col0, text).

    Readers give them as empty cells; this walks the BIFF records of the workbook stream
    (BOUNDSHEET for the sheet names, FORMULA results and BOOLERR for the errors). Best effort:
    anything unexpected in the file gives no errors (the reader reports a damaged file itself).
    """
    try:
        stream = _ole_stream(p.read_bytes(), ("Workbook", "Book"))
    except Exception:
        return {}
    if not stream or not _XLS_ERROR_RECORD.search(stream):
        return {}
    out: dict[str, list[tuple[int, int, str]]] = {}
    names: dict[int, str] = {}
    current: str | None = None
    pos, n = 0, len(stream)
    try:
        while pos + 4 <= n:
            rtype, length = struct.unpack_from("<HH", stream, pos)
            data = stream[pos + 4 : pos + 4 + length]
            if rtype == 0x0809 and len(data) >= 4:  # BOF: a sheet starts here
                current = names.get(pos) if struct.unpack_from("<H", data, 2)[0] == 0x0010 else None
            elif rtype == 0x002F:  # FILEPASS: the rest is encrypted
                break
            elif rtype == 0x0085 and len(data) >= 8:  # BOUNDSHEET: where each sheet's records start
                offset, cch, high = struct.unpack_from("<IxxBB", data, 0)
                raw = data[8 : 8 + cch * (2 if high & 1 else 1)]
                names[offset] = raw.decode("utf-16-le" if high & 1 else "latin-1", "replace")
            elif current is not None and rtype == 0x0006 and len(data) >= 14 and data[12:14] == b"\xff\xff" and data[6] == 2:
                row, col = struct.unpack_from("<HH", data, 0)
                out.setdefault(current, []).append((row, col, _XLS_ERRORS.get(data[8], "#VALUE!")))
            elif current is not None and rtype == 0x0205 and len(data) >= 8 and data[7] == 1:
                row, col = struct.unpack_from("<HH", data, 0)
                out.setdefault(current, []).append((row, col, _XLS_ERRORS.get(data[6], "#VALUE!")))
            pos += 4 + length
    except struct.error:
        pass
    return out


def _ole_stream(blob: bytes, names: tuple[str, ...]) -> bytes | None:
    """The first of ``names`` found as a stream of an OLE2 compound file (the container of .xls)."""
    if blob[:8] != OLE_MAGIC or len(blob) < 512:
        return None
    shift, mini_shift = struct.unpack_from("<HH", blob, 0x1E)
    if not 7 <= shift <= 16 or not 2 <= mini_shift <= shift:
        return None
    size, mini_size = 1 << shift, 1 << mini_shift
    n_fat, dir_start = struct.unpack_from("<II", blob, 0x2C)
    cutoff, minifat_start, _n_minifat, difat_start, n_difat = struct.unpack_from("<IIIII", blob, 0x38)
    n_sectors = (len(blob) - 512) // size + 1

    def sector(k: int) -> bytes:
        return blob[(k + 1) * size : (k + 2) * size]

    difat = list(struct.unpack_from("<109I", blob, 0x4C))
    k, seen = difat_start, 0
    while k < n_sectors and seen < min(n_difat, n_sectors):  # more FAT sector numbers, in DIFAT sectors
        ints = struct.unpack(f"<{size // 4}I", sector(k))
        difat += ints[:-1]
        k, seen = ints[-1], seen + 1
    fat: list[int] = []
    for k in difat[:n_fat]:
        if len(fat) >= n_sectors:  # enough for every sector of the file (a forged DIFAT may repeat one)
            break
        if k < n_sectors:
            fat += struct.unpack(f"<{size // 4}I", sector(k))

    def chain(start: int, table: list[int], read) -> bytes:
        parts, k, steps = [], start, 0
        while 0 <= k < len(table) and steps <= len(table):  # ends at ENDOFCHAIN; loops are cut
            parts.append(read(k))
            k, steps = table[k], steps + 1
        return b"".join(parts)

    directory = chain(dir_start, fat, sector)
    entries = []
    for off in range(0, len(directory) - 127, 128):
        e = directory[off : off + 128]
        name_len = struct.unpack_from("<H", e, 0x40)[0]
        name = e[: max(0, name_len - 2)].decode("utf-16-le", "replace")
        kind = e[0x42]
        start, length = struct.unpack_from("<II", e, 0x74)
        entries.append((name, kind, start, length))
    if not entries:
        return None
    root = entries[0]
    for want in names:
        for name, kind, start, length in entries:
            if kind != 2 or name != want:
                continue
            if length >= cutoff:
                return chain(start, fat, sector)[:length]
            ministream = chain(root[2], fat, sector)
            minifat_raw = chain(minifat_start, fat, sector)
            minifat = list(struct.unpack(f"<{len(minifat_raw) // 4}I", minifat_raw[: len(minifat_raw) // 4 * 4]))

            def mini(m: int, ministream: bytes = ministream) -> bytes:
                return ministream[m * mini_size : (m + 1) * mini_size]

            return chain(start, minifat, mini)[:length]
    return None


def is_encrypted_ooxml(p: Path) -> bool:
    with open(p, "rb") as fh:
        blob = fh.read(1 << 20)
    return "EncryptedPackage".encode("utf-16-le") in blob or b"EncryptionInfo" in blob or "EncryptionInfo".encode("utf-16-le") in blob
