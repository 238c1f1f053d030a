"""Output files, written so that no file of the user's is harmed.

* :func:`atomic_path`: one file is written to a temporary file in the same folder and moved over
  the target (``os.replace``, atomic on POSIX and Windows) only when complete. On any failure —
  an error, a full disk, Ctrl-C, SIGTERM (the command line turns it into an exception) — the
  temporary file is removed and the previous file, if any, is untouched. Two runs writing the same
  path each move a complete file into place: the last one wins, and the file is always valid.
* :class:`OutputSet`: every output of one command (tables, a workbook, a folder of figures, a
  mapping or study file) is staged this way and put in place together at the end (:meth:`commit`),
  with SIGINT/SIGTERM held off while it does: a run that fails writes nothing new, so old and new
  outputs never mix.
* :class:`InputGuard`: an output that is one of the command's inputs — the same file by any
  spelling of its path, a symbolic or hard link, a different case on a case-insensitive disk — is
  refused before anything is read.

Temporary files are hidden (``.NAME.btm-tmp-XXXX.EXT``) so folder scans never read them; only a
process killed with SIGKILL (which no program can intercept) can leave one behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import BTMError

__all__ = ["InputGuard", "OutputSet", "atomic_path"]

TMP_MARK = ".btm-tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what a plain open() would give: mkstemp makes 0600 files


def _temp_file(target: Path) -> Path:
    """A new, empty, hidden file beside ``target`` with its suffix (writers that pick the format
    from the name, such as matplotlib, still do)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.stem[:60]}{TMP_MARK}", suffix=target.suffix, dir=target.parent)
    except OSError as exc:  # name the output, not the temporary file
        raise BTMError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    os.chmod(name, _FILE_MODE)
    return Path(name)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it over ``path`` when the block completes,
    remove it when the block raises (whatever it raises)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_file(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


class InputGuard:
    """The files a command reads; :meth:`check` refuses an output that is one of them."""

    def __init__(self, inputs: Iterable[str | Path]) -> None:
        self.ids: dict[tuple[int, int], str] = {}
        for p in inputs:
            for f in _files(Path(p)):
                with contextlib.suppress(OSError):
                    st = f.stat()
                    self.ids.setdefault((st.st_dev, st.st_ino), str(f))

    def check(self, output: str | Path, what: str = "output") -> None:
        """Raise :class:`~btm.errors.BTMError` when ``output`` is (or resolves to) an input file."""
        try:
            st = Path(output).stat()  # follows symbolic links; a hard link has the same inode
        except OSError:
            return  # it does not exist yet, so it is no input
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):  # a device, a pipe, a socket
            raise BTMError(f"{what} {output} is not a regular file; give a file name")
        hit = self.ids.get((st.st_dev, st.st_ino))
        if hit is not None:
            same = "" if str(output) == hit else f" (the same file as {hit})"
            raise BTMError(f"refused: {what} {output} is one of the inputs{same}; it would be overwritten. Choose another path")


def _files(p: Path) -> list[Path]:
    if p.is_dir():
        from .readers import SPREADSHEET_SUFFIXES

        return [q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in (*SPREADSHEET_SUFFIXES, ".toml")]
    return [p]


class OutputSet:
    """The outputs of one command, staged beside their targets and put in place together.

    >>> with OutputSet(InputGuard(["in.csv"])) as out:          # doctest: +SKIP
    ...     write_csv_to(out.file("tidy.csv"))
    ...     out.commit()                                         # nothing is replaced before this
    """

    def __init__(self, guard: InputGuard | None = None) -> None:
        self.guard = guard or InputGuard([])
        self.files: list[tuple[Path, Path]] = []  # (temporary file, target)
        self.folders: list[tuple[Path, Path]] = []  # (temporary folder, target folder)

    def file(self, target: str | Path, what: str = "output") -> Path:
        """A temporary path to write ``target``'s content to."""
        t = Path(target)
        self.guard.check(t, what)
        if t.is_dir():
            raise BTMError(f"{what} {t} is a folder; give a file name")
        if t.exists() and not t.is_file():  # a device, a pipe, a socket: never replaced by a file
            raise BTMError(f"{what} {t} is not a regular file; give a file name")
        t.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_file(t)
        self.files.append((tmp, t))
        return tmp

    def text(self, target: str | Path, text: str, what: str = "output") -> None:
        self.file(target, what).write_text(text, encoding="utf-8", newline="")

    def csv(self, target: str | Path, df) -> None:
        from . import write

        write.write_csv_file(df, self.file(target))

    def folder(self, target: str | Path, what: str = "output folder") -> Path:
        """A temporary folder whose files go into ``target`` (created if needed) at :meth:`commit`."""
        t = Path(target)
        if t.exists() and not t.is_dir():
            raise BTMError(f"{what} {t} is a file, not a folder")
        t.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{t.name[:60]}{TMP_MARK}", dir=t.parent))
        self.folders.append((tmp, t))
        return tmp

    def commit(self) -> None:
        """Move every staged file into place, with SIGINT and SIGTERM held until done."""
        with _signals_held():
            for tmp, target in self.folders:
                target.mkdir(parents=True, exist_ok=True)
                for f in sorted(tmp.iterdir()):
                    self.guard.check(target / f.name)
                    os.replace(f, target / f.name)
                _remove(tmp)
            for tmp, target in self.files:
                os.replace(tmp, target)
            self.files, self.folders = [], []

    def discard(self) -> None:
        for tmp, _ in [*self.files, *self.folders]:
            _remove(tmp)
        self.files, self.folders = [], []

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()  # whatever was not committed


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM (POSIX) while outputs are moved into place, so that a set of
    outputs is replaced whole; a signal that arrives meanwhile takes effect right after."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = block(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, old)
