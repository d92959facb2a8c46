#!/usr/bin/env python3
"""How long after statement_timeout each family's call stops (docs/reliability.md).

    bench/cancel_latency.py --host SOCKET_DIR --port PORT --dbname DB

Runs the cancelled calls of tests/pg_regress/sql/90_reliability.sql (those between its
SET statement_timeout and RESET), each in a psql session of its own under the same 300 ms
timeout, and prints each call's wall time past the timeout; a `SELECT pg_sleep(10)` under
the same timeout is the baseline of what psql and Postgres themselves take.
"""

import argparse
import subprocess
import time
from pathlib import Path

SESSION = Path(__file__).resolve().parent.parent / "tests/pg_regress/sql/90_reliability.sql"
TIMEOUT_MS = 300


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
    baseline, _ = timed(args, "SELECT pg_sleep(10)")
    print(f"baseline (pg_sleep under the same timeout): {baseline - TIMEOUT_MS:.0f} ms past {TIMEOUT_MS} ms")
    print("| call | ms past the timeout | SQLSTATE |")
    print("|---|---|---|")
    for sql in all_statements[first + 1:last]:
        elapsed, error = timed(args, sql)
        call = " ".join(sql.split())
        print(f"| `{call[:90]}{'...' if len(call) > 90 else ''}` | {elapsed - TIMEOUT_MS:.0f} | {error.split()[-1] if error else 'none'} |")


if __name__ == "__main__":
    main()
