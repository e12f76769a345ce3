"""Atomic writes: produce a temporary sibling, rename it into place only when complete.

The temporary file or folder is removed on any exception, and also when the process receives
SIGTERM or SIGHUP meanwhile: while their handlers are the defaults, the signal raises
`Terminated` in the main thread so that the cleanup runs, and is then delivered again
with the default action, so the process still ends as the signal says. The result gets the
permissions a plain ``open()`` or ``mkdir()`` would give it under the current umask, not
``mkstemp``'s private 0600.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_UMASK_LOCK = threading.Lock()


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while an output was being written (raised to clean up)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signal.Signals(signum).name}")
        self.signum = signum


def _umask() -> int:
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def _signals_clean_up() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into `Terminated` for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(signum)

    previous = {}
    for sig in _SIGNALS:
        if signal.getsignal(sig) is signal.SIG_DFL:  # leave handlers of the host program alone
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    except Terminated as exc:  # the output is cleaned up: now end as the signal says
        for sig, old in previous.items():
            signal.signal(sig, old)
        previous = {}
        os.kill(os.getpid(), exc.signum)
        raise
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def check_target(
    path: Path, overwrite: bool, flag: str = "overwrite=True", folder: bool = False
) -> None:
    """Raise FileExistsError when ``path`` exists and may not be replaced.

    An existing directory is never a file output (``IsADirectoryError``), and its parent must
    be an existing directory.
    """
    if path.is_dir() and not folder:
        raise IsADirectoryError(
            f"output {path} is an existing directory; name a file inside it or another path"
        )
    if os.path.lexists(path) and not overwrite:  # a dangling symlink is an existing output
        raise FileExistsError(f"{path} already exists; remove it or pass {flag} to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"directory {path.parent} for output {path.name!r} does not exist; create it first"
        )


def _appeared(target: Path, flag: str) -> FileExistsError:
    return FileExistsError(
        f"{target} appeared while writing (another process wrote it first); not replacing "
        f"it: remove it or pass {flag} to replace it"
    )


# errnos of a filesystem without hard links (some network and FUSE filesystems)
_NO_LINKS = frozenset(
    getattr(errno, name)
    for name in ("EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK")
    if hasattr(errno, name)
)


def _publish(tmp: Path, target: Path, overwrite: bool, flag: str) -> None:
    """Put the finished ``tmp`` at ``target``; without ``overwrite``, never over another file.

    ``os.link`` fails when ``target`` exists, in one step, so of two writers that both found
    no output when they started exactly one wins (a check followed by ``os.replace`` would let
    the later writer silently replace the earlier one's finished file).
    """
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        raise _appeared(target, flag) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.path.lexists(target):  # no hard links here: check, then rename
            raise _appeared(target, flag) from None
        os.replace(tmp, target)
    else:
        os.unlink(tmp)


def _unwritable(target: Path, exc: OSError) -> OSError:
    return type(exc)(
        exc.errno,
        f"cannot write output {target}: cannot create a file in {target.parent} "
        f"({exc.strerror}); choose a folder you may write to",
    )


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], overwrite: bool = False, flag: str = "overwrite=True"
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds.

    On any exception (and on SIGTERM/SIGHUP) the temporary file is removed and ``path`` is
    left untouched. Without ``overwrite``, an existing ``path`` (a dangling symlink included)
    is refused up front, and again at the end: if another writer put a file there meanwhile,
    FileExistsError is raised and that file is kept.
    """
    target = Path(path)
    check_target(target, overwrite, flag)
    with _signals_clean_up():
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise _unwritable(target, exc) from exc
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            yield tmp_path
            os.chmod(tmp_path, 0o666 & ~_umask())
            _publish(tmp_path, target, overwrite, flag)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            raise


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str], overwrite: bool = False, flag: str = "overwrite=True"
) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; rename it onto ``path`` when complete.

    If ``path`` appears meanwhile (another process finished first) and ``overwrite`` is false,
    FileExistsError is raised and the temporary directory is removed (also on SIGTERM/SIGHUP).
    """
    target = Path(path)
    check_target(target, overwrite, flag, folder=True)
    with _signals_clean_up():
        try:
            tmp_path = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            )
        except OSError as exc:
            raise _unwritable(target, exc) from exc
        try:
            yield tmp_path
            os.chmod(tmp_path, 0o777 & ~_umask())
            if os.path.lexists(target):
                if not overwrite:
                    raise _appeared(target, flag)
                old = Path(
                    tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
                )
                os.replace(target, old / "x")
                os.replace(tmp_path, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp_path, target)
        except BaseException:
            shutil.rmtree(tmp_path, ignore_errors=True)
            raise
