"""Write files so that a reader never sees a half-written one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _current_umask() -> int:
    # Reading the umask means setting it: done once, at import, before any thread could race it.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def make_shareable(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a file (0666) or folder (0777) made private by mkstemp/mkdtemp the permissions a
    plain open()/mkdir() would have given it under the process's umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_UMASK)
# Every temporary file is hidden and has this in its name: .<name>.<random>.partial[.<suffix>]
PARTIAL = ".partial"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    On any exception (Ctrl-C included) the temporary file is removed and ``target``
    is left as it was.  The rename is atomic on POSIX because both paths share a folder.
    ``keep_suffix`` ends the temporary name in ``target``'s suffix, for writers that pick
    the file format by it (Keras refuses to save a model to a name not ending in .keras).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = (f".{target.stem}.", PARTIAL + target.suffix) if keep_suffix else (f".{target.name}.", PARTIAL)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    make_shareable(tmp_path)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def remove_stale_partials(folder: str | os.PathLike) -> None:
    """Delete the temporary files of :func:`atomic_path` under ``folder``.

    Only a process killed with SIGKILL (or one whose worker was) leaves them; they are never
    finished files, so a command that writes into ``folder`` clears them when it starts.
    """
    for p in list(Path(folder).rglob(f".*{PARTIAL}*")):
        if p.is_file():
            p.unlink(missing_ok=True)
