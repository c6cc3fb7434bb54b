import json
ED = "str_replace_based_edit_tool"
plan = {
  "summary": "Add a `--top N` option to `textkit count` that prints only the N most frequent words. A new helper `top_words(counts, n)` in `textkit/wordcount.py` does the ranking (ties in alphabetical order) and `textkit/cli.py` uses it; tests and the README follow.",
  "files_to_modify": [
    {"path": "textkit/wordcount.py", "changes": "Add `top_words(counts, n)` returning the n most frequent (word, count) pairs, ties sorted alphabetically", "depends_on": []},
    {"path": "tests/test_wordcount.py", "changes": "Add `test_top_words_order` and `test_top_words_ties`", "depends_on": ["textkit/wordcount.py"]},
    {"path": "textkit/cli.py", "changes": "Add the `--top N` option to the `count` subcommand and print `top_words(counts, N)`", "depends_on": ["textkit/wordcount.py"]},
    {"path": "tests/test_cli.py", "changes": "Add `test_count_top` for `count --top 2`", "depends_on": ["textkit/cli.py"]},
    {"path": "README.md", "changes": "Document `count --top N`", "depends_on": ["textkit/cli.py"]}
  ],
  "files_to_create": [],
  "dependency_changes": {"packages": [], "config": []},
  "steps": [
    {"order": 1, "description": "In `textkit/wordcount.py` add `top_words(counts: dict[str, int], n: int) -> list[tuple[str, int]]`: most frequent first, ties in alphabetical order. Add `test_top_words_order` and `test_top_words_ties` to `tests/test_wordcount.py`.",
     "files_to_modify": ["textkit/wordcount.py", "tests/test_wordcount.py"], "files_to_create": [], "validation": ["pytest -q tests/test_wordcount.py"]},
    {"order": 2, "description": "In `textkit/cli.py` add `--top N` (type int, optional) to the `count` subparser in `main()`, and print the rows of `top_words(counts, N)` (all words when `--top` is absent). Add `test_count_top` to `tests/test_cli.py`.",
     "files_to_modify": ["textkit/cli.py", "tests/test_cli.py"], "files_to_create": [], "validation": ["pytest -q tests/test_cli.py"]},
    {"order": 3, "description": "Document `python -m textkit count --top N FILE` in `README.md` next to the existing `count` usage line.",
     "files_to_modify": ["README.md"], "files_to_create": [], "validation": ["pytest -q"]}
  ],
  "test_criteria": ["`pytest -q` passes (all existing tests plus the three new ones)", "`python -m pytest -q tests/test_cli.py` passes: `count --top 2` prints exactly two lines"],
  "risks": ["Changing the output loop of `count` could alter the existing ordering; `test_count` guards it."],
  "assumptions": ["Python 3.9+ (builtin generic annotations)", "`--top` absent keeps today's output"]
}
# The first plan leans on a helper that does not exist (`print_counts`): the critic finds it, the
# tightening round sends it back to the planner once, and the corrected plan (`plan`) passes.
first_plan = json.loads(json.dumps(plan))
first_plan["steps"][1]["description"] = (
    "In `textkit/cli.py` add `--top N` (type int, optional) to the `count` subparser in `main()`, "
    "and hand the rows of `top_words(counts, N)` (all words when `--top` is absent) to the existing "
    "`print_counts(rows)` helper. Add `test_count_top` to `tests/test_cli.py`.")
finding = {
  "kind": "wrong-assumption", "step": 2, "field": "description", "severity": "error",
  "evidence": ["textkit/cli.py:21-23 — main() prints the rows itself in a for loop",
               "search 'def print_counts' — no match anywhere in the workspace"],
  "problem": "Step 2 hands the rows to an existing `print_counts(rows)` helper, but no function "
             "`print_counts` exists in the workspace.",
  "fix": "Print the rows of `top_words(counts, N)` in the existing loop in `main()` instead of "
         "calling `print_counts`.",
}
CANARY = "canary-5f0d6c1e"
critique = [
  {"note": "critique: a second model checks the plan against the code",
   "expect": {"tools": ["submit_critique", "search_text"], "contains": ["<plan_under_review>", "print_counts"], "not_contains": [CANARY]},
   "thinking": "Step 2 relies on print_counts; does it exist?",
   "tool": "search_text", "input": {"pattern": "def print_counts"}},
  {"expect": {"tool_result_contains": "no matches"},
   "tool": "submit_critique", "input": {"findings": [finding]}},
  {"note": "the tightening round: the critic's error goes back to the planner once",
   "expect": {"tools": ["submit_plan"], "contains": ["<submitted_plan>", "critique/wrong-assumption", "print_counts"]},
   "thinking": "There is no print_counts; print in the existing loop.",
   "tool": "submit_plan", "input": plan},
  {"note": "critique of the corrected plan: nothing left",
   "expect": {"tools": ["submit_critique"], "contains": ["<plan_under_review>"]},
   "tool": "submit_critique", "input": {"findings": []}},
]
turns = [
  {"note": "planning: the model explores, then submits the plan",
   "expect": {"tools": ["submit_plan", "view_file"], "contains": ["--top", "wordcount.py"], "not_contains": ["canary-5f0d6c1e"]},
   "thinking": "The task touches the count subcommand; let me look at the CLI first.",
   "tool": "view_file", "input": {"path": "textkit/cli.py"}},
  {"expect": {"tool_result_contains": "add_subparsers"},
   "thinking": "count_words returns a dict; ranking belongs in wordcount.py. Three small steps, each validated by pytest.",
   "tool": "submit_plan", "input": first_plan},
  *critique,
  {"note": "step 1, attempt 1: a subtle bug (ties not ordered)",
   "expect": {"tools": [ED], "contains": ["<current_step>\nStep 1:", "def count_words"]},
   "tool": ED, "input": {"command": "str_replace", "path": "textkit/wordcount.py",
     "old_str": "    return dict(Counter(w.lower().strip(\"'\") for w in WORD.findall(text) if w.strip(\"'\")))\n",
     "new_str": "    return dict(Counter(w.lower().strip(\"'\") for w in WORD.findall(text) if w.strip(\"'\")))\n\n\ndef top_words(counts: dict[str, int], n: int) -> list[tuple[str, int]]:\n    \"\"\"The `n` most frequent words, most frequent first; ties in alphabetical order.\"\"\"\n    return sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]\n"}},
  {"tools": [
     {"name": ED, "input": {"command": "str_replace", "path": "tests/test_wordcount.py", "old_str": "from textkit.wordcount import count_words\n", "new_str": "from textkit.wordcount import count_words, top_words\n"}},
     {"name": ED, "input": {"command": "insert", "path": "tests/test_wordcount.py", "insert_line": 9, "insert_text": "\n\ndef test_top_words_order():\n    assert top_words({\"a\": 1, \"b\": 3, \"c\": 2}, 2) == [(\"b\", 3), (\"c\", 2)]\n\n\ndef test_top_words_ties():\n    assert top_words({\"b\": 2, \"a\": 2, \"c\": 1}, 2) == [(\"a\", 2), (\"b\", 2)]\n"}}]},
  {"text": "Added `top_words` to textkit/wordcount.py and two tests."},
  {"note": "step 1, attempt 2: the validation failure came back; fix the tie order",
   "expect": {"contains": ["<validation_errors>", "test_top_words_ties"]},
   "tool": ED, "input": {"command": "str_replace", "path": "textkit/wordcount.py",
     "old_str": "    return sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]\n",
     "new_str": "    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]\n"}},
  {"text": "Ties are now ordered alphabetically."},
  {"note": "step 2", "expect": {"contains": ["<current_step>\nStep 2:", "<completed_steps>"]},
   "tools": [
     {"name": ED, "input": {"command": "str_replace", "path": "textkit/cli.py", "old_str": "from textkit.wordcount import count_words\n", "new_str": "from textkit.wordcount import count_words, top_words\n"}},
     {"name": ED, "input": {"command": "str_replace", "path": "textkit/cli.py", "old_str": "    c.add_argument(\"file\")\n", "new_str": "    c.add_argument(\"file\")\n    c.add_argument(\"--top\", type=int, default=None, metavar=\"N\", help=\"only the N most frequent words\")\n"}},
     {"name": ED, "input": {"command": "str_replace", "path": "textkit/cli.py", "old_str": "    for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):\n", "new_str": "    for word, n in top_words(counts, len(counts) if args.top is None else args.top):\n"}}]},
  {"tool": ED, "input": {"command": "str_replace", "path": "tests/test_cli.py",
     "old_str": "    assert capsys.readouterr().out == \"    2 b\\n    1 a\\n\"\n",
     "new_str": "    assert capsys.readouterr().out == \"    2 b\\n    1 a\\n\"\n\n\ndef test_count_top(tmp_path, capsys):\n    f = tmp_path / \"t.txt\"\n    f.write_text(\"b a b c c c\")\n    assert main([\"count\", \"--top\", \"2\", str(f)]) == 0\n    assert capsys.readouterr().out == \"    3 c\\n    2 b\\n\"\n"}},
  {"text": "`count` takes `--top N`; added test_count_top."},
  {"note": "step 3", "expect": {"contains": ["<current_step>\nStep 3:"]},
   "tool": ED, "input": {"command": "str_replace", "path": "README.md",
     "old_str": "python -m textkit count FILE               # word counts, most frequent first\n",
     "new_str": "python -m textkit count FILE               # word counts, most frequent first\npython -m textkit count --top 5 FILE       # only the 5 most frequent words\n"}},
  {"text": "Documented `--top` in README.md."}
]
json.dump({"turns": turns}, open("examples/scripts/demo.json", "w"), indent=1)
print(len(turns))
