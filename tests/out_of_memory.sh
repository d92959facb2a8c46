#!/usr/bin/env bash
# Out of memory is an ERROR, never a crash (docs/reliability.md): a throwaway cluster whose
# processes may map at most 1.5 GB, a call that needs more with the budget out of the way,
# and then the checks: SQLSTATE 53200, the same postmaster, the session still usable, no
# process terminated by a signal in the log.
set -euo pipefail
cd "$(dirname "$0")/.."
clusters=${CLUSTERS:-/var/tmp/pg_marketing}
mkdir -p "$clusters" && chmod 755 "$clusters"
dir=$(mktemp -d "$clusters/oom.XXXXXX")
trap 'tests/cluster.sh stop "$dir/data"; rm -rf "$dir"' EXIT
read -r port socket < <(ulimit -v 1500000; tests/cluster.sh start "$dir/data")
psql=(psql -X -At -h "$socket" -p "$port" -U postgres -d postgres -v VERBOSITY=sqlstate)
"${psql[@]}" -q -c "CREATE EXTENSION pg_marketing"
started=$("${psql[@]}" -c "SELECT pg_postmaster_start_time()")
output=$("${psql[@]}" -c "SET pg_marketing.memory_budget = '64GB'" \
    -c "SELECT kmeans_fit('SELECT i, i, i FROM generate_series(1, 40000000) i', 2) IS NOT NULL" \
    -c "SELECT count(*) FROM rfm_score('SELECT 1, now(), 1')" 2>&1 || true)
echo "$output"
failed=0
grep -q '^ERROR:  53200' <<<"$output" || { echo "out of memory: no ERROR 53200"; failed=1; }
[ "$(tail -n 1 <<<"$output")" = 1 ] || { echo "out of memory: the session did not go on"; failed=1; }
[ "$("${psql[@]}" -c "SELECT pg_postmaster_start_time()")" = "$started" ] || { echo "out of memory: the postmaster restarted"; failed=1; }
! grep -q "terminated by signal" "$dir/data/server.log" || { echo "out of memory: a process was terminated"; failed=1; }
echo "out of memory: $((1 - failed)) passed, $failed failed"
exit $failed
