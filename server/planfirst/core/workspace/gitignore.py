"""gitignore matching: pathspec translates the patterns, google-re2 matches them in linear time.

A hand-written glob translator run on Python's backtracking `re` took minutes for
`*a*a*a*a*a*a*a*a*b` against a long name (docs/reliability.md case 29). Here pathspec's
`GitIgnoreSpecPattern` turns each line into a regular expression (git's glob rules: anchoring,
`**`, escapes, directory-only patterns) and re2 runs it without backtracking.

pathspec's own `GitIgnoreSpec.check_file` answers for files only (its directory priority rules
misjudge a directory such as `d/` under `*` then `!*/`), while the walk must decide for
directories too; so one path is judged here by git's rule for a single path: the last matching
pattern wins, a directory-only pattern applies only to directories, and callers check the parent
directories themselves (a file in an ignored directory cannot be re-included).

`IgnoreRules` holds the rules of one ignore file relative to its directory; `IgnoreFiles` is the
one cached loader for `.gitignore` files and `.git/info/exclude`, re-read when a file changes.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import re2
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

_DIR_MARK = "(?P<ps_d>/)"
_DIR_OR_END = "(?:(?P<ps_d>/)|$)"
# pathspec leaves POSIX bracket classes (`[[:digit:]]`) untranslated; git's wildmatch has them.
_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "xdigit": "0-9A-Fa-f",
    "blank": " \\t",
    "punct": "".join("\\" + c for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
_POSIX_CLASS = re.compile(r"\[:([a-z]+):\]")


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False  # a bad pattern is skipped, not logged to stderr by RE2
    opts.dot_nl = True  # file names may hold any character
    return opts


_OPTS = _options()
log = logging.getLogger(__name__)

# One ignore file is read up to here (red team rt8): pathspec parses a rule in about 0.1 ms, so
# 200,000 rules took half a minute, and a 2 GB file (or a link to /dev/zero) was read whole. A
# file over either limit ignores everything below its directory: what it ignores is never shown.
MAX_IGNORE_BYTES = 1 << 20
MAX_IGNORE_RULES = 10_000
# Rules per combined prefilter pattern: 2,000 long rules in one made RE2's pattern too large.
_CHUNK = 256
OVER_LIMIT = ["*"]  # what a file over either limit reads as (IgnoreRules.over_limit)
LIMIT_REASON = (
    "over planfirst's limit for an ignore file (1 MB, 10,000 lines): everything below its folder "
    "is taken as ignored and not shown; split it into its folders' own .gitignore files"
)


@dataclass(frozen=True)
class _Rule:
    regex: Any  # a compiled re2 pattern matched against the whole path below the file's dir
    negate: bool
    dir_only: bool


def _posix_classes(line: str) -> str:
    return _POSIX_CLASS.sub(lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), line)


def _own_regex(pattern: str) -> tuple[str, bool]:
    """(regex matching the path itself, directory-only) from pathspec's regex for one line."""
    if pattern == ".":  # `*`, `**`: every path
        return ".+", False
    if pattern == _DIR_MARK:  # `*/`, `**/`: every directory
        return ".+", True
    if pattern.endswith(_DIR_OR_END):
        return pattern[: -len(_DIR_OR_END)] + "$", False
    if pattern.endswith(_DIR_MARK):
        return pattern[: -len(_DIR_MARK)] + "$", True
    return pattern, False  # e.g. `abc/**` → `^abc/`: a prefix, everything inside


def parse_rule(line: str, ignore_case: bool = False) -> _Rule | None:
    """One gitignore line as a rule; None for blanks, comments and lines git would skip."""
    line = line.rstrip("\r\n")
    if ignore_case:
        line = line.casefold()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pathspec's own re.compile warns on `[[`
            pat = GitIgnoreSpecPattern(_posix_classes(line))
    except Exception:
        return None  # git skips patterns it cannot use; so do we
    if pat.include is None or pat.regex is None:
        return None
    source, dir_only = _own_regex(pat.regex.pattern)
    try:
        regex = re2.compile(source, _OPTS)
    except Exception:
        return None
    return _Rule(regex, not pat.include, dir_only)


class IgnoreRules:
    """The rules of one ignore file, relative to the directory `base` ('' for the root)."""

    def __init__(self, base: str, lines: Iterable[str], ignore_case: bool = False) -> None:
        self.base = base
        self.ignore_case = ignore_case
        self.rules = [r for r in (parse_rule(ln, ignore_case) for ln in lines) if r is not None]
        self.over_limit = lines is OVER_LIMIT  # a file over the limits, read as `*`
        # Combined patterns reject the paths no rule matches (most of them) in a few calls.
        self._any = _prefilters(self.rules)

    @property
    def empty(self) -> bool:
        """True when no line is a rule (only comments and blanks)."""
        return not self.rules

    def match(self, path: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by `!`) or None (no rule matches) for a
        root-relative path."""
        if not self._any:
            return None
        if self.base:
            if not path.startswith(self.base + "/"):
                return None
            sub = path[len(self.base) + 1 :]
        else:
            sub = path
        if self.ignore_case:
            sub = sub.casefold()
        if all(p.match(sub) is None for p in self._any):
            return None
        for rule in reversed(self.rules):  # the last matching rule wins
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(sub) is not None:
                return not rule.negate
        return None


def _prefilters(rules: list[_Rule]) -> list[Any]:
    """Patterns, each the union of up to _CHUNK rules, split further where RE2 refuses one."""
    out: list[Any] = []
    todo = [rules[i : i + _CHUNK] for i in range(0, len(rules), _CHUNK)]
    while todo:
        chunk = todo.pop()
        if len(chunk) == 1:
            out.append(chunk[0].regex)
            continue
        try:
            out.append(re2.compile("|".join(f"(?:{r.regex.pattern})" for r in chunk), _OPTS))
        except Exception:  # "pattern too large": halves, down to the rules themselves
            todo += [chunk[: len(chunk) // 2], chunk[len(chunk) // 2 :]]
    return out


def read_ignore_file(path: str, follow: bool = False) -> list[str] | None:
    """The lines of an ignore file; None when there is none to read: missing, a symbolic link
    (git never follows one in the tree: a link to /dev/zero was read until memory ran out) unless
    `follow`, a FIFO or another special file. A file over the limits reads as `*` (see
    MAX_IGNORE_BYTES)."""
    flags = os.O_RDONLY | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    flags |= getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = b""
        while len(data) <= MAX_IGNORE_BYTES:
            chunk = os.read(fd, MAX_IGNORE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    finally:
        os.close(fd)
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(data) > MAX_IGNORE_BYTES or len(lines) > MAX_IGNORE_RULES:
        log.warning("planfirst: %s is %s", path, LIMIT_REASON)
        return OVER_LIMIT
    return lines


def chain_match(chain: Iterable[IgnoreRules], path: str, is_dir: bool) -> bool:
    """Whether `path` is ignored by rule sets ordered from lowest to highest precedence."""
    result: bool | None = None
    for rules in chain:
        got = rules.match(path, is_dir)
        if got is not None:
            result = got
    return bool(result)


def match_with_parents(rules: IgnoreRules, rel_path: str) -> bool:
    """Whether `rel_path` or any of its parent directories matches (configured globs)."""
    parts = rel_path.split("/")
    for i in range(1, len(parts) + 1):
        if chain_match([rules], "/".join(parts[:i]), i < len(parts)):
            return True
    return False


class IgnoreFiles:
    """Parsed ignore files under one root, cached by (mtime, size) until a file changes."""

    def __init__(self, root: str, ignore_case: bool) -> None:
        self.root = root
        self.ignore_case = ignore_case
        self._cache: dict[str, tuple[tuple[int, int] | None, IgnoreRules | None]] = {}

    def load(self, rel_file: str, base: str, follow: bool = False) -> IgnoreRules | None:
        """The rules of the ignore file `rel_file` (root-relative), applied below `base`."""
        path = os.path.join(self.root, rel_file)
        try:
            st = os.stat(path) if follow else os.lstat(path)
            sig: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            sig = None
        cached = self._cache.get(rel_file)
        if cached is not None and cached[0] == sig:
            return cached[1]
        rules: IgnoreRules | None = None
        if sig is not None:
            lines = read_ignore_file(path, follow)
            rules = IgnoreRules(base, lines, self.ignore_case) if lines is not None else None
            if rules is not None and rules.empty:
                rules = None
        self._cache[rel_file] = (sig, rules)
        return rules

    def over_limit(self) -> list[str]:
        """The ignore files read (root-relative) that are over the limits: the user is told."""
        return sorted(f for f, (_, r) in self._cache.items() if r is not None and r.over_limit)

    def gitignore(self, dir_rel: str) -> IgnoreRules | None:
        """The .gitignore of a directory ('' for the root)."""
        return self.load(f"{dir_rel}/.gitignore" if dir_rel else ".gitignore", dir_rel)

    def info_exclude(self) -> IgnoreRules | None:
        """`.git/info/exclude`: rules for the whole tree, below every .gitignore. Read through a
        link, as git reads it (a user's exclude file kept in dotfiles and linked in hid nothing
        once links were refused, red team rt9); still only a regular file, bounded."""
        return self.load(".git/info/exclude", "", follow=True)

    def clear(self) -> None:
        """Forget every parsed file."""
        self._cache.clear()
