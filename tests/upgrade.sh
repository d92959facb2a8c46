#!/usr/bin/env bash
# The upgrade test (make upgrade-test, part of make test):
#   1. pg_marketing 0.1.0 built from its commit (tag v0.1.0) in a git worktree, installed;
#   2. in a cluster of its own, CREATE EXTENSION pg_marketing VERSION '0.1.0' in a database
#      of objects that depend on it (tests/upgrade/before.sql) and in an empty one;
#   3. the current version installed over it, ALTER EXTENSION pg_marketing UPDATE in both;
#   4. the dependent objects answer as under 0.1.0 (tests/upgrade/after.sql), before the
#      UPDATE (the old catalog on the new library) and after it; the upgraded
#      catalog equals a fresh install's (tests/upgrade/catalog.sql), and the whole pg_regress
#      suite passes in the upgraded empty database.
# Needs CLUSTERS and PG_CONFIG (the Makefile exports them); INSTALL_FLAGS go to cargo pgrx
# install (--sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# The release this version upgrades from and the commit it was built from (also tag v0.1.0;
# the commit is written here too, so a clone without tags still finds it).
from_version=0.1.0
from_commit=73b385d8f4d2ed57e68137131982e3c01277e638
to_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

fail() { echo "upgrade: $*" >&2; exit 1; }

if tag=$(git rev-parse -q --verify "refs/tags/v$from_version^{commit}"); then
    [ "$tag" = "$from_commit" ] || fail "tag v$from_version is $tag, not $from_commit"
fi
git cat-file -e "$from_commit^{commit}" 2>/dev/null ||
    fail "commit $from_commit ($from_version) is not in this clone; clone with full history"
[ -f "sql/pg_marketing--$from_version--$to_version.sql" ] ||
    fail "sql/pg_marketing--$from_version--$to_version.sql is missing"

work=$repo/target/upgrade
worktree=$work/v$from_version
mkdir -p "$CLUSTERS" && chmod 755 "$CLUSTERS"
dir=$(mktemp -d "$CLUSTERS/upgrade.XXXXXX")
cleanup() {
    tests/cluster.sh stop "$dir/data" || true
    rm -rf "$dir"
    git worktree remove --force "$worktree" 2>/dev/null || true
}
trap cleanup EXIT

echo "upgrade: building $from_version from $from_commit"
git worktree remove --force "$worktree" 2>/dev/null || true
git worktree prune
git worktree add --detach "$worktree" "$from_commit" >/dev/null
# A target directory of its own: the old build must not replace the current one's library.
# It starts from the current debug build's dependencies, so that only the crate itself is
# compiled; every artifact of the crate is left out, as its library files carry no hash
# that would tell the two versions apart.
rm -rf "$work/target" && mkdir -p "$work/target/debug"
if [ -d target/debug ]; then
    (cd target/debug && cp -a build deps .fingerprint "$work/target/debug/")
    rm -rf "$work/target/debug"/{deps,build,.fingerprint}/*pg_marketing*
fi
(cd "$worktree" && CARGO_TARGET_DIR=$work/target \
    cargo pgrx install --pg-config "$PG_CONFIG" ${INSTALL_FLAGS:-} 2>&1 | tail -n 1)

read -r port socket < <(tests/cluster.sh start "$dir/data")
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U postgres)
# The upgraded database the pg_regress suite runs in has pg_regress's name and settings.
regress_db=pg_marketing_regress
"${psql[@]}" -d postgres \
    -c "CREATE DATABASE upgrade_objects" -c "CREATE DATABASE fresh_install" \
    -c "CREATE DATABASE $regress_db TEMPLATE template0" \
    -c "ALTER DATABASE $regress_db SET lc_messages TO 'C'" \
    -c "ALTER DATABASE $regress_db SET lc_monetary TO 'C'" \
    -c "ALTER DATABASE $regress_db SET lc_numeric TO 'C'" \
    -c "ALTER DATABASE $regress_db SET lc_time TO 'C'" \
    -c "ALTER DATABASE $regress_db SET bytea_output TO 'hex'" \
    -c "ALTER DATABASE $regress_db SET timezone_abbreviations TO 'Default'"
for db in upgrade_objects $regress_db; do
    "${psql[@]}" -d $db -c "CREATE EXTENSION pg_marketing VERSION '$from_version'"
done
"${psql[@]}" -d upgrade_objects -f tests/upgrade/before.sql

echo "upgrade: installing $to_version over it, ALTER EXTENSION pg_marketing UPDATE"
cargo pgrx install --pg-config "$PG_CONFIG" ${INSTALL_FLAGS:-} 2>&1 | tail -n 1
# Between the install and the UPDATE, 0.1.0's catalog runs on the new library: it must answer too.
"${psql[@]}" -d upgrade_objects -f tests/upgrade/after.sql
for db in upgrade_objects $regress_db; do
    "${psql[@]}" -d $db -c "ALTER EXTENSION pg_marketing UPDATE TO '$to_version'"
done
"${psql[@]}" -d upgrade_objects -f tests/upgrade/after.sql

"${psql[@]}" -d fresh_install -c "CREATE EXTENSION pg_marketing"
upgraded=$("${psql[@]}" -d upgrade_objects -f tests/upgrade/catalog.sql)
fresh=$("${psql[@]}" -d fresh_install -f tests/upgrade/catalog.sql)
if [ "$upgraded" != "$fresh" ]; then
    diff <(echo "$fresh") <(echo "$upgraded") | sed 's/^/upgrade: catalog (< fresh, > upgraded) /' >&2
    fail "the upgraded catalog differs from a fresh $to_version install's"
fi
echo "upgrade: the catalog equals a fresh install's ($(echo "$fresh" | wc -l) objects)"

tests=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
mkdir -p target/upgrade/regress
"$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
    --host="$socket" --port="$port" --user=postgres --use-existing --dbname=$regress_db \
    --inputdir=tests/pg_regress --outputdir=target/upgrade/regress $tests ||
    { cat target/upgrade/regress/regression.diffs 2>/dev/null || true; fail "pg_regress failed after the upgrade"; }
echo "upgrade: $from_version -> $to_version passed"
