#!/usr/bin/env bash
# make package: validates META.json against the PGXN meta spec, builds the release with
# `cargo pgrx package` and wraps its tree into target/package/postgresql-15-pg-marketing_<version>_<arch>.deb
# (dpkg-deb; Depends: postgresql-15 and the libc6 the library was linked against).
# Needs PG_CONFIG and PG_MAJOR (the Makefile exports them); PGXN_META is the validator.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package: $*" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
description=$(sed -n 's/^description = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
name=postgresql-$PG_MAJOR-pg-marketing
arch=$(dpkg --print-architecture)
out=target/package
deb=$out/${name}_${version}_${arch}.deb

"$PGXN_META" META.json
meta_versions=$(python3 -c 'import json; m = json.load(open("META.json")); print(m["version"], m["provides"]["pg_marketing"]["version"])')
[ "$meta_versions" = "$version $version" ] || fail "META.json says $meta_versions, Cargo.toml $version"

rm -rf "$out" && mkdir -p "$out"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$out/root" 2>&1 | tail -n 2
root=$out/root
library=$root/usr/lib/postgresql/$PG_MAJOR/lib/pg_marketing.so
extension=$root/usr/share/postgresql/$PG_MAJOR/extension
for file in "$library" "$extension/pg_marketing.control" "$extension/pg_marketing--$version.sql"; do
    [ -f "$file" ] || fail "cargo pgrx package did not write $file"
done
ls sql/pg_marketing--*--"$version".sql >/dev/null 2>&1 || fail "no upgrade script to $version in sql/"

# The newest glibc symbol version the library needs is the libc6 it depends on.
glibc=$(objdump -T "$library" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
[ -n "$glibc" ] || fail "no glibc symbol versions found in $library"

doc=$root/usr/share/doc/$name
mkdir -p "$doc" "$root/DEBIAN"
cp README.md "$doc/"
printf 'pg_marketing %s\nLicense: MIT\n' "$version" > "$doc/copyright"
cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: pg_marketing developers <dev@pg-marketing.invalid>
Depends: postgresql-$PG_MAJOR, libc6 (>= $glibc)
Section: database
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Description: $description
 The pg_marketing extension for PostgreSQL $PG_MAJOR: attribution, RFM, k-means, CLV,
 lifecycle, journeys and ROI in SQL. After installing: CREATE EXTENSION pg_marketing;
 in each database, or ALTER EXTENSION pg_marketing UPDATE where an older version is.
CONTROL
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
echo "package: $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
