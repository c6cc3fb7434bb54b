"""Word counting."""

import re
from collections import Counter

WORD = re.compile(r"[A-Za-z']+")


def count_words(text: str) -> dict[str, int]:
    """How often each lower-cased word occurs in `text`."""
    return dict(Counter(w.lower().strip("'") for w in WORD.findall(text) if w.strip("'")))
