#!/usr/bin/env bash
# make package-test: the .deb that make package wrote is installed with dpkg -i over a system
# without the extension's files, dpkg --verify checks what it installed, and in a fresh
# cluster CREATE EXTENSION and one query of each family run (tests/package/smoke.sql). The
# package is purged at the end, so the system has no pg_marketing afterwards.
# Needs CLUSTERS, PG_CONFIG and SUDO (empty as root); the Makefile exports them.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package test: $*" >&2; exit 1; }

deb=$(ls target/package/postgresql-*-pg-marketing_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no .deb in target/package (make package)"
name=$(dpkg-deb --field "$deb" Package)
version=$(dpkg-deb --field "$deb" Version)
libdir=$("$PG_CONFIG" --pkglibdir)
extdir=$("$PG_CONFIG" --sharedir)/extension

mkdir -p "$CLUSTERS" && chmod 755 "$CLUSTERS"
dir=$(mktemp -d "$CLUSTERS/package.XXXXXX")
cleanup() {
    tests/cluster.sh stop "$dir/data" || true
    rm -rf "$dir"
    $SUDO dpkg --purge "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Whatever cargo pgrx install left goes first, so every file used below is the package's.
$SUDO rm -f "$libdir/pg_marketing.so" "$extdir"/pg_marketing.control "$extdir"/pg_marketing--*.sql
$SUDO dpkg -i "$deb" >/dev/null
dpkg-query -W -f='${Status} ${Version}\n' "$name" | grep -qx "install ok installed $version" ||
    fail "$name $version is not installed"
$SUDO dpkg --verify "$name" || fail "dpkg --verify $name found files that differ from the package"
for file in "$libdir/pg_marketing.so" "$extdir/pg_marketing.control" "$extdir/pg_marketing--$version.sql" \
            "$extdir/pg_marketing--0.1.0--$version.sql"; do
    dpkg -S "$file" 2>/dev/null | grep -q "^$name:" || fail "$file is not installed by $name"
done

read -r port socket < <(tests/cluster.sh start "$dir/data")
psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U postgres -d postgres -c "CREATE DATABASE package_smoke"
psql -X -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U postgres -d package_smoke -t -A \
    -f tests/package/smoke.sql | grep -E ': ok$|^[0-9]' | tr '\n' ' '
echo
echo "package test: $deb installed with dpkg, one query of each family passed"
