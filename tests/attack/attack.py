#!/usr/bin/env python3
"""The attack suite (docs/reliability.md): every function of the extension called with
generated hostile arguments and inputs, for a bounded time, against a running cluster.

    tests/attack/attack.py --host SOCKET_DIR --port PORT --log SERVER_LOG [--seconds 50] [--seed 1]

The functions come from the catalog (every function the extension owns, aggregates included),
so a new function is attacked without a change here. Arguments are drawn per type and per
argument name from pools of ordinary and hostile values (NULLs, empties, extremes, NaN and
infinities, huge and negative sizes, malformed models and paths, wrong types, long strings,
writes and several statements in query texts). Each statement runs under a 2 s
statement_timeout. The run fails if the backend crashes (the postmaster's start time
changes, or the server log says a process was terminated by a signal), if any statement
raises XX000, or if one raises a SQLSTATE that docs/reliability.md does not list.
Only the standard library and psql are needed.
"""

import argparse
import random
import re
import subprocess
import sys
import time

# docs/reliability.md lists these: the extension's own, and Postgres' own for mistakes in
# the caller's SQL (literals of the wrong form, missing tables and columns, the query text).
DOCUMENTED = {
    "22023", "42804", "22003", "54000", "42601", "22008", "25006", "57014", "53200",  # ours
    "42P01", "42703", "42883", "42501", "22P02", "22007", "22008", "22012", "42P18",  # the caller's SQL
    "42725", "2201E", "2201F", "22004", "22019", "22025", "42846", "0A000", "42P10",
    "22026", "2202E", "54001", "42P22", "42939", "42809",
}

FIXTURES = r"""
DROP SCHEMA IF EXISTS attack CASCADE;
CREATE SCHEMA attack;
SET search_path = attack, public;
CREATE TABLE touches AS
    SELECT i % 40 AS k, '2024-01-01'::timestamptz + (i * 37 % 90) * interval '1 day' AS ts,
           (ARRAY['email', 'search', 'social', 'display', 'direct', '(start)', 'a > b', ''])[1 + i % 8] AS ch
    FROM generate_series(1, 400) i
    UNION ALL VALUES (NULL, now(), 'x'), (1, NULL, 'x'), (2, now(), NULL),
                     (3, '4713-01-01 BC', 'old'), (3, '294276-12-30', 'late');
CREATE TABLE conversions AS
    SELECT i % 40 AS k, '2024-02-01'::timestamptz + (i * 13 % 60) * interval '1 day' AS ts, (i % 7) * 10.5 AS v
    FROM generate_series(1, 80) i
    UNION ALL VALUES (4, now(), 1e300::float8), (5, now(), -1e300::float8), (6, now(), NULL), (NULL, now(), 1);
CREATE TABLE orders AS
    SELECT i % 50 AS k, '2023-01-01'::timestamptz + (i * 7 % 500) * interval '1 day' AS ts, (i % 13) * 3.25 AS amount
    FROM generate_series(1, 600) i
    UNION ALL VALUES (1, '4713-01-01 BC', 1), (2, '294276-12-30', 1e300), (3, now(), -5), (NULL, now(), 1);
CREATE TABLE paths AS
    SELECT (ARRAY['email > search', 'search', 'display > email > direct', 'a>b>a>b', ' > ', ''])[1 + i % 6] AS path,
           i % 3 AS conversions, i * 1.5 AS value, i % 4 AS nulls
    FROM generate_series(1, 60) i
    UNION ALL VALUES ('x > y', 1e308, 1e308, 1e308), ('z', -1, 0, 0), (NULL, 1, 1, 1);
CREATE TABLE features AS
    SELECT i AS id, sin(i) * 10 AS x, cos(i) AS y, (i % 5)::float8 AS z FROM generate_series(1, 300) i
    UNION ALL VALUES (1000, 1e200, 1, 1), (1001, -1e200, 0, 0), (NULL, 1, 1, 1), (1002, NULL, 1, 1);
CREATE TABLE training AS
    SELECT i AS k, (i * 7 % 10 < 4)::int AS label, sin(i) * 10 AS x, (i % 5)::float8 AS y FROM generate_series(1, 300) i
    UNION ALL VALUES (1000, 1, 1e200, 1), (1001, 0, -1e200, 0), (NULL, 1, 1, 1), (1002, NULL, 1, 1), (1003, 1, NULL, 1);
CREATE TABLE members AS
    SELECT i AS k, (ARRAY['a', 'b', NULL])[1 + i % 3] AS segment, i % 4 = 0 AS is_control FROM generate_series(0, 60) i;
CREATE TABLE snapshot AS
    SELECT i AS k, (ARRAY['Champions', 'At Risk', 'Lost', ''])[1 + i % 4] AS segment FROM generate_series(0, 80) i
    UNION ALL VALUES (NULL, 'x'), (1000, NULL);
CREATE TABLE costs AS VALUES ('a', 10.0), ('b', 1e308), ('zz', -1);
CREATE TABLE spend AS SELECT ch AS channel, '2024-01-01'::date + d AS day, d * 2.0 AS cost
    FROM unnest(ARRAY['email', 'search', 'nope']) ch, generate_series(0, 60) d;
CREATE TABLE events AS
    SELECT i % 30 AS k, '2024-01-01'::timestamptz + (i * 41 % 200) * interval '1 hour' AS ts,
           (ARRAY['view', 'cart', 'buy', 'view', '', 'a > b', NULL])[1 + i % 7] AS event
    FROM generate_series(1, 500) i
    UNION ALL VALUES (NULL, now(), 'view'), (1, NULL, 'view'), (3, '4713-01-01 BC', 'view'), (3, '294276-12-30', 'buy');
CREATE TABLE victim (n int);
INSERT INTO victim VALUES (1);
CREATE FUNCTION writer() RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO attack.victim VALUES (2) RETURNING 1 $$;
CREATE TABLE models AS
    SELECT 'kmeans' AS kind, kmeans_fit('SELECT id, x, y FROM attack.features WHERE abs(x) < 100', 3) AS model
    UNION ALL SELECT 'gmm', kmeans_fit('SELECT id, x, y FROM attack.features WHERE abs(x) < 100', 2, algorithm => 'gmm')
    UNION ALL SELECT 'propensity', propensity_fit('SELECT id, z > 1, x, y FROM attack.features WHERE abs(x) < 100', 'logistic')
    UNION ALL SELECT 'gbt', propensity_fit('SELECT id, z > 1, x, y FROM attack.features', options => '{"n_trees": 5}')
    UNION ALL SELECT 'clv', clv_fit('SELECT k, ts, amount FROM attack.orders WHERE ts > ''2000-01-01'' AND ts < ''2100-01-01'' AND amount > 0');
"""

QUERIES = {
    "touch": ["attack.touches", "SELECT k, ts, ch FROM attack.touches", "SELECT k::text, ts::date, ch FROM attack.touches ORDER BY md5(ch)"],
    "conversion": ["attack.conversions", "SELECT k, ts, v FROM attack.conversions"],
    "order": ["attack.orders", "SELECT k, ts, amount FROM attack.orders"],
    "path": ["attack.paths", "SELECT string_to_array(path, '>'), conversions, value, nulls FROM attack.paths"],
    "feature": ["attack.features", "SELECT id, x, y FROM attack.features WHERE abs(x) < 100",
                "SELECT id, ARRAY[x, y, z] FROM attack.features", "SELECT id, x FROM attack.features"],
    "member": ["attack.members", "SELECT k, segment FROM attack.members"],
    "snapshot": ["attack.snapshot", "SELECT k::text, segment FROM attack.snapshot WHERE k % 3 <> 0",
                 "SELECT k, segment FROM attack.members"],
    "cost": ["attack.costs"],
    "event": ["attack.events", "SELECT k, ts, event FROM attack.events", "SELECT k::text, ts, event FROM attack.events ORDER BY md5(event)"],
    "spend": ["attack.spend"],
    "training": ["attack.training", "SELECT k, label::boolean, ARRAY[x, y] FROM attack.training WHERE abs(x) < 100",
                 "SELECT k, label, x FROM attack.training", "SELECT k, 2, x FROM attack.training",
                 "SELECT k, true, x FROM attack.training"],
}
HOSTILE_QUERIES = [
    "", " ", ";", "SELECT", "SELECT 1; SELECT 2", "SELECT 1, now(), 1; DELETE FROM attack.victim",
    "WITH d AS (DELETE FROM attack.victim RETURNING n) SELECT n, now(), 1 FROM d",
    "SELECT n, now(), 1 FROM attack.victim FOR UPDATE", "SELECT attack.writer(), now(), 1",
    "SELECT NULL, NULL, NULL", "SELECT 1, 2, 3", "SELECT 'NaN'::float8, now(), 'NaN'::float8",
    "SELECT 1, 'infinity'::timestamptz, 1", "SELECT i, now(), i FROM generate_series(1, 3) i",
    "no_such_table", "attack.no_such", "\"", "'", "x" * 5000, "pg_catalog.pg_class",
    "SELECT set_config('search_path', 'pg_temp', false), now(), 1", "attack.victim;",
    "SELECT 1/0, now(), 1", "SELECT repeat('a', 100000), now(), 1",
]
WORDS = {
    "model": ["linear", "first_touch", "last_touch", "position_based", "time_decay", "last_non_direct",
              "custom", "markov", "shapley", "U", "", "LINEAR", "markov; drop"],
    "scale": ["zscore", "minmax", "none", "robust", ""],
    "algorithm": ["kmeans", "gmm", "dbscan", "", "logistic", "gbt"],
    "monetary": ["mean", "total", "sum", ""],
    "segment_map": ["standard", "rf", "none", "x"],
    "path_transform": ["none", "unique", "first", "frequency", "collapse", "?"],
    "separator": [">", "", " ", ",", "x" * 1000],
    "period": ["day", "week", "month", "quarter", "year", "fortnight", "", "MONTH"],
    "mode": ["default", "strict_order", "strict_increase, strict_deduplication", "strict", "", "strict_order,"],
    "start_event": ["view", "cart", "", "nope"],
    "cohort_event": ["view", "buy", "", "nope"],
    "return_event": ["view", "buy", "", "nope"],
}
TYPED = {
    "integer": ["0", "1", "2", "3", "-1", "12", "1000", "1201", "100000", "2147483647", "-2147483648"],
    "bigint": ["0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808"],
    "double precision": ["0", "1", "0.5", "-1", "0.95", "0.9999999999999999", "1e-308", "1e308", "-1e308",
                         "'NaN'", "'Infinity'", "'-Infinity'", "0.01"],
    "interval": ["'1 day'", "'30 days'", "'0'", "'-1 day'", "'1 microsecond'", "'178000000 years'",
                 "'-178000000 years'", "'107000000 days'", "'1 month 2 days 3 hours'"],
    "timestamp with time zone": ["now()", "'2024-03-01'", "'infinity'", "'-infinity'", "'4713-01-01 BC'",
                                 "'294276-12-31'", "'2000-01-01'"],
    "boolean": ["true", "false"],
    "double precision[]": ["'{}'", "'{1,2}'", "'{0.5,0.2,0.3}'", "'{NaN,1}'", "'{1e308,1e308}'", "ARRAY[NULL]::float8[]",
                           "(SELECT array_agg(i) FROM generate_series(1, 5000) i)::float8[]"],
    "text[]": ["'{}'", "'{email}'", "'{email,search}'", "ARRAY[NULL]::text[]", "'{\"\"}'", "'{view,cart,buy}'",
               "'{view,view}'", "(SELECT array_agg(i::text) FROM generate_series(1, 40) i)"],
    "boolean[]": ["'{}'", "'{true}'", "'{true,false,NULL}'", "ARRAY[NULL]::boolean[]",
                  "(SELECT array_agg(i % 2 = 0) FROM generate_series(1, 40) i)"],
    "jsonb": ["'{}'", "'[]'", "'null'", "'1'", "'{\"format\": \"pg_marketing.kmeans\", \"version\": 1}'",
              "(SELECT model FROM attack.models WHERE kind = 'kmeans')", "(SELECT model FROM attack.models WHERE kind = 'gmm')",
              "(SELECT model FROM attack.models WHERE kind = 'clv')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'kmeans'), '{sizes}', '[1e19, 1, 1]')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'kmeans'), '{centroids}', '[[1e308, 1e308]]')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'clv'), '{bgnbd,a}', '-1')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'clv'), '{bgnbd,r}', '1e308')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'clv'), '{version}', '2')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'gmm'), '{mixture,covariances}', '[[[-1]]]')",
              "(SELECT model FROM attack.models WHERE kind = 'propensity')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'propensity'), '{logistic,coefficients}', '[1e308, 1e308]')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'propensity'), '{logistic,intercept}', '\"x\"')",
              "(SELECT model FROM attack.models WHERE kind = 'gbt')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'gbt'), '{gbt,trees,0,left,0}', '0')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'gbt'), '{gbt,trees,0,value}', '[1e308, 1e308, 1e308]')",
              "jsonb_set((SELECT model FROM attack.models WHERE kind = 'gbt'), '{gbt,base_log_odds}', '1e999')",
              "'{\"l2\": 0}'", "'{\"l2\": -1}'", "'{\"max_iter\": 1}'", "'{\"tolerance\": 1e-300}'",
              "'{\"n_trees\": 5}'", "'{\"l2\": 1e999}'", "'{\"max_depth\": 64, \"max_leaves\": 65536, \"min_samples_leaf\": 1}'",
              "'{\"early_stopping\": true, \"validation_share\": 0.5, \"n_iter_no_change\": 1}'",
              "'{\"learning_rate\": 10, \"n_trees\": 50}'", "'{\"max_bins\": 2}'"],
}
# Argument names whose text is a query, and which fixture shape fits them.
QUERY_ARGUMENTS = {"touchpoints": "touch", "conversions": "conversion", "transactions": "order", "orders": "order",
                   "paths": "path", "features": "feature", "members": "member", "costs": "cost", "spend": "spend",
                   "before": "snapshot", "after": "snapshot", "events": "event", "training": "training",
                   "data": "training"}


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def value_for(name: str, type_name: str, rng: random.Random) -> str:
    if rng.random() < 0.08:
        return "NULL"
    if type_name == "text":
        if name in QUERY_ARGUMENTS:
            pool = QUERIES[QUERY_ARGUMENTS[name]] if rng.random() < 0.7 else HOSTILE_QUERIES
            if rng.random() < 0.1:  # a query of another shape
                pool = QUERIES[rng.choice(list(QUERIES))]
            return quote(rng.choice(pool))
        return quote(rng.choice(WORDS.get(name, ["a", "", "x" * 3000, "email"])))
    if type_name in TYPED:
        if rng.random() < 0.03:  # the wrong type altogether
            return quote(rng.choice(["abc", "{", "1e999", ""]))
        return rng.choice(TYPED[type_name])
    return "NULL"


def psql(args, sql: str, timeout: float) -> subprocess.CompletedProcess:
    command = ["psql", "-X", "-q", "-h", args.host, "-p", str(args.port), "-U", "postgres", "-d", args.dbname,
               "-v", "VERBOSITY=verbose", "-o", "/dev/null", "-f", "-"]
    return subprocess.run(command, input=sql, text=True, capture_output=True, timeout=timeout)


def one_value(args, sql: str) -> str:
    result = subprocess.run(["psql", "-X", "-At", "-h", args.host, "-p", str(args.port), "-U", "postgres",
                             "-d", args.dbname, "-c", sql], text=True, capture_output=True)
    if result.returncode != 0:
        raise SystemExit(f"attack: {sql.strip()[:80]}... failed: {result.stderr.strip()}")
    return result.stdout.strip()


def catalog(args) -> list:
    rows = one_value(args, """
        SELECT p.proname || '|' || p.prokind::text || '|' || p.proretset::text || '|' || p.pronargdefaults || '|' ||
               coalesce(array_to_string(p.proargnames[1:p.pronargs], ','), '') || '|' ||
               coalesce((SELECT string_agg(format_type(t, NULL), ',' ORDER BY o)
                         FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, o)), '')
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_marketing'
        WHERE NOT 'internal'::regtype::oid = ANY (p.proargtypes::oid[]) AND p.prorettype <> 'internal'::regtype
        ORDER BY 1""")
    functions = []
    for line in rows.splitlines():
        name, kind, retset, defaults, names, types = line.split("|")
        types = types.split(",") if types else []
        names = names.split(",") if names else []
        functions.append((name, kind, retset == "true", int(defaults), names, types))
    return functions


def statement(function, rng: random.Random) -> str:
    """A call of `function`: required arguments positionally, each optional one given by
    name half of the time (else its default applies), so that calls reach past the checks."""
    name, kind, retset, defaults, names, types = function
    required = len(types) - defaults
    arguments = [value_for(n, t, rng) for n, t in zip(names[:required], types[:required])]
    if len(names) < len(types):  # unnamed arguments (aggregates): all positional
        arguments = [value_for(f"arg{i}", t, rng) for i, t in enumerate(types)]
    else:
        # names quoted: some are keywords ("window")
        arguments += [f'"{n}" => {value_for(n, t, rng)}' for n, t in zip(names[required:], types[required:])
                      if rng.random() < 0.5]
    values = ", ".join(arguments)
    if retset:
        return f"SELECT count(*) FROM {name}({values});"
    return f"SELECT {name}({values}) IS NULL;"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--dbname", default="pg_marketing_attack")
    parser.add_argument("--log", required=True, help="the server log, read for terminated backends")
    parser.add_argument("--seconds", type=float, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=40)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    subprocess.run(["psql", "-X", "-q", "-h", args.host, "-p", str(args.port), "-U", "postgres", "-d", "postgres",
                    "-c", f"DROP DATABASE IF EXISTS {args.dbname} WITH (FORCE)", "-c", f"CREATE DATABASE {args.dbname}"],
                   check=True)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", args.host, "-p", str(args.port), "-U", "postgres",
                    "-d", args.dbname], input="CREATE EXTENSION pg_marketing;\n" + FIXTURES, text=True, check=True,
                   capture_output=True)
    started = one_value(args, "SELECT pg_postmaster_start_time()")
    with open(args.log, encoding="utf-8", errors="replace") as log:
        log.seek(0, 2)
        log_start = log.tell()
    functions = catalog(args)
    print(f"attack: {len(functions)} functions, {args.seconds:.0f} s, seed {args.seed}")

    deadline = time.monotonic() + args.seconds
    counts, failures, statements = {}, [], 0
    error_line = re.compile(r"^psql:<stdin>:(\d+): (ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): (.*)$")
    while time.monotonic() < deadline and len(failures) < 20:
        batch = [statement(rng.choice(functions), rng) for _ in range(args.batch)]
        # line 1 sets the timeout; statement i is on line i + 2
        sql = "SET statement_timeout = '2s';\n" + "\n".join(s.replace("\n", " ") for s in batch) + "\n"
        result = psql(args, sql, timeout=args.batch * 3 + 30)
        statements += len(batch)
        for line in result.stderr.splitlines():
            match = error_line.match(line)
            if match:
                number, level, code, message = match.groups()
                counts[code] = counts.get(code, 0) + 1
                if code == "XX000" or code not in DOCUMENTED or level != "ERROR":
                    failures.append(f"{code} {message}\n    {batch[int(number) - 2]}")
            elif "connection" in line and ("lost" in line or "closed" in line):
                failures.append(f"the connection was lost: {line}\n    batch: {batch}")
    if one_value(args, "SELECT pg_postmaster_start_time()") != started:
        failures.append("the postmaster restarted: a backend crashed")
    with open(args.log, encoding="utf-8", errors="replace") as log:
        log.seek(log_start)
        for line in log:
            if "terminated by signal" in line or "was terminated" in line:
                failures.append(f"server log: {line.strip()}")
    victims = one_value(args, "SELECT count(*) FROM attack.victim")
    if victims != "1":
        failures.append(f"a query text wrote: attack.victim has {victims} rows, not 1")
    if statements >= 200 and not counts:
        failures.append("no statement raised an error: the attack's reading of psql's output is broken")
    summary = ", ".join(f"{code} x{n}" for code, n in sorted(counts.items()))
    print(f"attack: {statements} statements; errors by SQLSTATE: {summary or 'none'}")
    for failure in failures:
        print(f"attack: FAILED: {failure}")
    print(f"attack: {statements - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
