#!/usr/bin/env python3
"""The doc tester (docs/README.md): runs the examples of docs/*.md against the pg_regress
database and compares their output with the docs, so that docs and behaviour cannot drift.

    tests/doc_tester.py --host SOCKET_DIR --port PORT [docs/x.md ...]

An example is a ```sql block whose query is followed by psql's output, in the same block
(the output starts at a header line over a rule of dashes, or at an ERROR line) or in the
unlabelled ``` block right after it. A ```sql block that is a signature or a snippet with
nothing to compare is marked ```sql signature and skipped; a ```sql setup block (the
settings a page's examples run with) runs without a comparison; any other ```sql block
without without output fails the run, so a new example cannot go untested.

The data is pg_regress's: tests/pg_regress/sql/00_setup.sql loads it once into a database of
the tester's own, with pg_regress's settings; each page then runs in a fresh copy of it, its
examples in order in one psql session (what one example creates serves the next). A line
"..." in the docs' output stands for the rows left out there. Only the standard library and
psql are needed.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(.*)$")
RULE = re.compile(r"^-+(\+-+)*$")


def blocks(text: str):
    """(info string, lines, line number of the opening fence) of every fenced block."""
    lines = text.splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        found.append((opening.group(1).strip(), lines[i + 1:end], i + 1, end))
        i = end + 1
    return found, lines


ROWS = re.compile(r"^\(\d+ rows?\)$")
# lines of an error report: the message, its details, and the position caret
ERROR_LINE = re.compile(r"^(ERROR|DETAIL|HINT|CONTEXT|LINE \d+):  |^\s*\^$")


def output_start(lines: list, at: int = 0) -> int | None:
    """Where psql's output next begins in a block: a header over a rule, or an ERROR."""
    for i in range(at, len(lines)):
        if i + 1 < len(lines) and RULE.match(lines[i + 1].strip()) and lines[i].strip():
            return i
        if lines[i].startswith("ERROR:  "):
            return i
    return None


def output_end(lines: list, start: int) -> int:
    """The line after the output that starts at `start`: after its "(n rows)", or after the
    last line of an error report; the block's end otherwise."""
    if lines[start].startswith("ERROR:  "):
        end = start
        while end < len(lines) and ERROR_LINE.match(lines[end]):
            end += 1
        return end
    return next((i + 1 for i in range(start, len(lines)) if ROWS.match(lines[i].strip())), len(lines))


def transcript(body: list, line: int) -> list:
    """The (line, query, output) pairs of a block that holds queries and their output, as
    pg_regress prints them: each query followed by its result."""
    pairs, at = [], 0
    while (start := output_start(body, at)) is not None:
        end = output_end(body, start)
        query = "\n".join(body[at:start]).strip()
        if query:
            pairs.append((line + at, query, body[start:end]))
        at = end
    if "\n".join(body[at:]).strip():  # statements after the last output: they must print nothing
        pairs.append((line + at, "\n".join(body[at:]), []))
    return pairs


def examples(path: Path):
    """(line, sql, expected output) of a page's examples (output None for a setup block),
    and the lines of its unmarked blocks."""
    found, lines = blocks(path.read_text())
    result, unmarked = [], []
    for n, (info, body, line, end) in enumerate(found):
        words = info.split()
        if not words or words[0] != "sql" or "signature" in words[1:]:
            continue
        if "setup" in words[1:]:
            result.append((line, "\n".join(body), None))
            continue
        if output_start(body) is not None:
            result += transcript(body, line)
            continue
        following = found[n + 1] if n + 1 < len(found) else None
        between = lines[end + 1:following[2] - 1] if following else []
        if following and following[0] == "" and not any(l.strip() for l in between):
            result.append((line, "\n".join(body), following[1]))
        else:
            unmarked.append(line)
    return result, unmarked


def matches(expected: list, got: list) -> bool:
    """Line for line, a "..." line of the docs matching any run of lines (rows left out)."""
    if not expected:
        return not got
    if expected[0].strip() == "...":
        return any(matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and matches(expected[1:], got[1:])


def normalised(lines) -> list:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


# pg_regress's session settings: its environment and what it sets on its database
ENVIRONMENT = dict(os.environ, PGTZ="PST8PDT", PGDATESTYLE="Postgres, MDY")
DATABASE_SETTINGS = ["lc_messages TO 'C'", "lc_monetary TO 'C'", "lc_numeric TO 'C'", "lc_time TO 'C'",
                     "bytea_output TO 'hex'", "timezone_abbreviations TO 'Default'"]
DATA = "pg_marketing_docs"


def psql(args, database: str, script: str, check: bool = False) -> str:
    """Runs `script` from standard input, as pg_regress runs its files (so errors print
    without a file prefix); stdout and stderr together."""
    command = ["psql", "-X", "-q", "-h", args.host, "-p", str(args.port), "-U", "postgres", "-d", database]
    if check:
        command += ["-v", "ON_ERROR_STOP=1"]
    done = subprocess.run(command, input=script, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=ENVIRONMENT, cwd=REPO)
    if check and done.returncode != 0:
        raise SystemExit(f"doc tester: setting up {database} failed:\n{done.stdout[-2000:]}")
    return done.stdout


def load_data(args):
    settings = "".join(f"ALTER DATABASE {DATA} SET {s};\n" for s in DATABASE_SETTINGS)
    psql(args, "postgres", f"DROP DATABASE IF EXISTS {DATA};\nCREATE DATABASE {DATA};\n{settings}", check=True)
    psql(args, DATA, "CREATE EXTENSION pg_marketing;\n\\set ECHO none\n" + (REPO / "tests/pg_regress/sql/00_setup.sql").read_text(), check=True)


def run_page(args, path: Path, cases) -> list:
    marker = "=== pg_marketing doc example {} ==="
    script = "".join(f"\\echo '{marker.format(i)}'\n{sql.rstrip()}\n" for i, (_, sql, _) in enumerate(cases))
    database = f"{DATA}_page"
    psql(args, "postgres", f"DROP DATABASE IF EXISTS {database};\nCREATE DATABASE {database} TEMPLATE {DATA};", check=True)
    output = psql(args, database, script)
    psql(args, "postgres", f"DROP DATABASE {database};", check=True)
    parts = re.split(r"^=== pg_marketing doc example (\d+) ===$", output, flags=re.M)
    outputs = {int(parts[i]): parts[i + 1].splitlines() for i in range(1, len(parts), 2)}
    failures = []
    for i, (line, sql, expected) in enumerate(cases):
        if expected is None:  # a setup block: it must run without output (no error)
            expected = []
        got = normalised(outputs.get(i, ["(no output: the session ended before this example)"]))
        if not matches(normalised(expected), got):
            failures.append((line, sql, normalised(expected), got))
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("pages", nargs="*", help="pages to test (default: every docs/*.md)")
    args = parser.parse_args()
    pages = [Path(p) for p in args.pages] or sorted((REPO / "docs").glob("*.md"))
    load_data(args)
    total, failed = 0, 0
    for page in pages:
        cases, unmarked = examples(page)
        name = page.relative_to(REPO) if page.is_absolute() else page
        for line in unmarked:
            print(f"{name}:{line}: a sql block without output: add its output or mark it ```sql signature")
            failed += 1
        if not cases:
            continue
        failures = run_page(args, page, cases)
        total += sum(1 for case in cases if case[2] is not None)
        failed += len(failures)
        for line, sql, expected, got in failures:
            print(f"{name}:{line}: the output differs from the docs")
            print("  query:    " + sql.strip().splitlines()[0] + (" ..." if "\n" in sql.strip() else ""))
            for tag, text in (("docs", expected), ("got ", got)):
                print(f"  {tag}:")
                print("\n".join("    " + l for l in text[:40]))
    psql(args, "postgres", f"DROP DATABASE {DATA};", check=True)
    print(f"doc tester: {total} examples, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
