"""What a path from a client or a model may look like, before the guard resolves it: the checks
of its form (empty, NUL and control characters, length, `~`, drives, UNC paths, backslashes,
URIs, `..`), `file://` URIs decoded, and the errors the path gate raises (PathError, ReadRefused).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from planfirst.errors import PlanfirstError

MAX_PATH_LEN = 4096


_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PathError(PlanfirstError, ValueError):
    """A path that is malformed or outside the workspace; the message names the path and why."""

    code = "path"


class ReadRefused(PathError):
    """A workspace file that must not be read for a model; `reason` is short ("secret", "binary")."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def from_uri(uri: str) -> str:
    """The local path of a `file://` URI (percent-decoded); PathError for any other kind of URI."""
    try:
        parts = urlsplit(uri)
    except ValueError as e:
        raise PathError(f"{uri!r} is not a valid URI: {e}") from None
    if parts.scheme.lower() != "file":
        raise PathError(f"{uri!r} is not a file:// URI; give a workspace-relative path")
    if parts.netloc not in ("", "localhost"):
        raise PathError(
            f"{uri!r} names a network host ({parts.netloc}); only local files are allowed"
        )
    path = unquote(parts.path)
    if re.match(r"^/[A-Za-z]:", path):
        raise PathError(f"{uri!r} names a Windows drive; it cannot be inside this workspace")
    return path


def check_syntax(original: str, path: str) -> None:
    """PathError unless `path` (decoded from `original`) is a plain workspace path: not empty,
    no NUL or control character, not too long, no `~`, drive, UNC, `\\`, URI or `..`."""
    if not path or not path.strip():
        raise PathError("path is empty; give a workspace-relative path such as 'src/app.py'")
    if "\x00" in path:
        raise PathError(f"path {original!r} contains a NUL byte")
    if _CONTROL.search(path):
        raise PathError(f"path {original!r} contains a control character")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_LEN:
        raise PathError(f"path {original[:80]!r}… is longer than {MAX_PATH_LEN} bytes")
    if path.startswith("~"):
        raise PathError(
            f"path {original!r} starts with '~'; give it relative to the workspace root"
        )
    if path.startswith("\\\\") or path.startswith("//"):
        raise PathError(
            f"path {original!r} is a UNC/network path; only workspace files are allowed"
        )
    if _DRIVE.match(path):
        raise PathError(f"path {original!r} names a drive; give it relative to the workspace root")
    if "\\" in path:
        raise PathError(
            f"path {original!r} uses '\\'; use '/' separators, relative to the workspace root"
        )
    if _SCHEME.match(path):
        raise PathError(f"path {original!r} looks like a URI; give a workspace-relative path")
    if ".." in path.split("/"):
        raise PathError(f"path {original!r} contains '..'; paths must stay inside the workspace")
