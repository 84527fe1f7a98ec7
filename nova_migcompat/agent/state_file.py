"""The agent's files under ``[migcompat]state_path``, read and written safely.

A file is read only when it is the agent's own (same owner, not writable by
others, in a directory that is not either), without following a link, and
only up to a size bound; it is written atomically (a temporary file,
fsync, rename), so that a reader never sees half of it.
"""

import os
import stat
import tempfile


class Unusable(Exception):
    """The file exists but is not to be read (one line saying why)."""


def unsafe(st, what):
    """Why a file or directory others could write is not to be trusted."""
    if st.st_uid != os.geteuid():
        return '%s belongs to uid %d, not to the agent' % (what, st.st_uid)
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return '%s is writable by others (mode %o)' % (
            what, stat.S_IMODE(st.st_mode))
    return None


def read(path, max_bytes):
    """The file's bytes; None if it does not exist.

    :raises Unusable: it cannot be read, is not the agent's own, or is
        larger than ``max_bytes``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Unusable(str(e))
    try:
        why = (unsafe(os.fstat(fd), 'the file') or
               unsafe(os.lstat(os.path.dirname(path) or '.'),
                      'its directory'))
        if why:
            raise Unusable(why)
        with os.fdopen(fd, 'rb') as f:
            fd = None
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise Unusable(str(e))
    finally:
        if fd is not None:
            os.close(fd)
    if len(data) > max_bytes:
        raise Unusable('larger than %d bytes' % max_bytes)
    return data


def write(path, data):
    """Replace the file with ``data`` (str) atomically.

    :raises OSError: it could not be written (the old file stays).
    """
    directory = os.path.dirname(path) or '.'
    tmp = None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix='.%s.' % os.path.basename(path), dir=directory)
        with os.fdopen(fd, 'w') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
