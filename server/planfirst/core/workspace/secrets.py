"""Which workspace names hold credentials or keys: never read for a model, never sent.

The names are folded (case, Unicode lookalikes) before they are compared, so `.ENV` and a
fullwidth `ｉｄ_rsa` count too (docs/reliability.md cases 6 and 25).
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata

SECRET_GLOBS = (
    ".env",
    ".env.*",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".git-credentials",
    ".htpasswd",
    "credentials*",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
)
# Directories whose whole content is key material or close to it.
SECRET_DIRS = frozenset({".ssh", ".gnupg"})
# `id_*` is an SSH key only when it has no extension (or is the `.pub` half); `id_utils.py` is code.
# fnmatch.translate gives linear patterns for these fixed globs (no nested quantifiers).
_SECRET_NAME = re.compile(
    "|".join([*(fnmatch.translate(g) for g in SECRET_GLOBS), r"id_[^.]+(?:\.pub)?\Z"]),
    re.DOTALL,
)


def fold(name: str) -> str:
    """Fold case and Unicode lookalikes (fullwidth letters, NFD) for protected-name checks, and
    the trailing dots and spaces Windows drops from a name (`.git.` is `.git` there)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return folded.rstrip(". ") or folded


def is_secret(rel_path: str) -> bool:
    """True when a workspace-relative path names a file that may hold credentials or keys."""
    parts = [fold(p) for p in rel_path.replace("\\", "/").split("/") if p]
    if not parts:
        return False
    if any(p in SECRET_DIRS for p in parts[:-1]):
        return True
    name = parts[-1]
    if name in SECRET_DIRS:
        return True
    return _SECRET_NAME.match(name) is not None


def is_env_file(rel_path: str) -> bool:
    """True for `.env`-style files (`.env`, `.env.local`, `.envrc`): KEY=value lines whose
    values are redacted from command output (docs/reliability.md case 32)."""
    name = fold(rel_path.replace("\\", "/").rpartition("/")[2])
    return name in (".env", ".envrc") or name.startswith(".env.")
