#!/usr/bin/env python3
"""How long after statement_timeout each family's call stops (docs/reliability.md).

    bench/cancel_latency.py --host SOCKET_DIR --port PORT --dbname DB

Runs the cancelled calls of tests/pg_regress/sql/90_reliability.sql (those between its
SET statement_timeout and RESET), each REPEAT times in a psql session of its own under the
same 300 ms timeout, and prints the median and the largest wall time past the timeout; a
`SELECT pg_sleep(10)` under the same timeout is the baseline of what psql and Postgres
themselves take.
"""

import argparse
import statistics
import subprocess
import time
from pathlib import Path

SESSION = Path(__file__).resolve().parent.parent / "tests/pg_regress/sql/90_reliability.sql"
TIMEOUT_MS = 300
REPEAT = 5


def statements(text: str) -> list[str]:
    done, current = [], []
    for line in text.splitlines():
        if line.startswith("--") or line.startswith("\\") or not line.strip():
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            done.append("\n".join(current))
            current = []
    return done


def timed(args, sql: str) -> tuple[float, str]:
    command = ["psql", "-X", "-q", "-h", args.host, "-p", str(args.port), "-U", "postgres", "-d", args.dbname,
               "-v", "VERBOSITY=sqlstate", "-c", f"SET statement_timeout = '{TIMEOUT_MS}ms'", "-c", sql]
    started = time.monotonic()
    result = subprocess.run(command, text=True, capture_output=True)
    return (time.monotonic() - started) * 1000, result.stderr.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--dbname", required=True)
    args = parser.parse_args()
    all_statements = statements(SESSION.read_text())
    first = next(i for i, s in enumerate(all_statements) if s.startswith("SET statement_timeout"))
    last = next(i for i, s in enumerate(all_statements) if s.startswith("RESET statement_timeout"))
    # the tables the calls read
    setup = "\n".join(s.replace("CREATE TEMP TABLE", "CREATE TABLE") for s in all_statements[:first])
    subprocess.run(["psql", "-X", "-q", "-h", args.host, "-p", str(args.port), "-U", "postgres", "-d", args.dbname],
                   input=setup, text=True, check=True, capture_output=True)
    print(f"ms past the {TIMEOUT_MS} ms statement_timeout, median and largest of {REPEAT} runs")
    print("| call | median | largest | SQLSTATE |")
    print("|---|---|---|---|")
    for sql in ["SELECT pg_sleep(10);"] + all_statements[first + 1:last]:
        runs = [timed(args, sql) for _ in range(REPEAT)]
        past = [elapsed - TIMEOUT_MS for elapsed, _ in runs]
        states = sorted({error.split()[-1] if error else "none" for _, error in runs})
        call = " ".join(sql.split())
        print(f"| `{call[:90]}{'...' if len(call) > 90 else ''}` | {statistics.median(past):.0f} | {max(past):.0f} "
              f"| {', '.join(states)} |")


if __name__ == "__main__":
    main()
