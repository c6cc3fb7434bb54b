"""Command line: `python -m textkit slug TEXT` and `python -m textkit count FILE`."""

import argparse
import sys

from textkit.slug import slugify
from textkit.wordcount import count_words


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="textkit")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("slug", help="print the slug of TEXT")
    s.add_argument("text")
    c = sub.add_parser("count", help="print word counts of FILE, most frequent first")
    c.add_argument("file")
    args = parser.parse_args(argv)
    if args.cmd == "slug":
        print(slugify(args.text))
        return 0
    with open(args.file, encoding="utf-8") as f:
        counts = count_words(f.read())
    for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{n:5d} {word}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
