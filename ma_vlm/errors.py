"""The one exception type the library raises for bad user input, and its one-line message.

Every message names the problem and the fix. The CLI prints it as one line (no traceback);
library users can catch it, and it is a ``ValueError`` so generic handlers still work.
"""

import errno


class MaVlmInputError(ValueError):
    """Bad input from the user: wrong shape, missing focal length, mismatched checkpoint keys..."""


_OS_ERROR_FIXES = {
    errno.ENOENT: "check the path",
    errno.EACCES: "check its permissions or choose a writable location",
    errno.EPERM: "check its permissions or choose a writable location",
    errno.EROFS: "it is on a read-only disk: choose a writable location",
    errno.ENOSPC: "the disk is full: free space or choose another disk",
    errno.EISDIR: "it is a folder: give a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "it already exists: choose another name",
}


def user_error_message(error: BaseException) -> str | None:
    """The one-line message for an error caused by the user's input or environment, or None
    for a bug (which keeps its traceback)."""
    if isinstance(error, MaVlmInputError):
        message = str(error)
    elif isinstance(error, OSError):  # file system, or a library's "cannot load X" (Transformers)
        where = f"{error.filename}: " if error.filename is not None else ""
        fix = _OS_ERROR_FIXES.get(error.errno, "check the path, its permissions and the free disk space")
        message = f"{where}{error.strerror or error} ({fix})"
    elif isinstance(error, MemoryError):
        message = "out of memory; give smaller inputs (images: --max-megapixels) or use a larger machine"
    else:
        return None
    return " ".join(message.split())  # one line, whatever the message held
