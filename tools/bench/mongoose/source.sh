#!/bin/sh
# Puts a Mongoose source tree where the http-compare-gateway benchmark finds it: extracts mongoose.c
# and mongoose.h from SOURCE into CACHE_DIR/mongoose-<MG_VERSION> and prints the line that exports
# POSTERN_MONGOOSE_SRC. This repository holds no Mongoose code (its licence is not ours); the
# benchmark compiles our own server (httpd-tap.c) against these two files at bench time.
#
#   eval "$(tools/bench/mongoose/source.sh SOURCE [CACHE_DIR])"
#
# SOURCE is one of
#   - a git directory of the Mongoose repository, bare or not: the files of commit $MONGOOSE_REV
#     (default HEAD; the release 7.22 is the tag 7.22), not a work tree's uncommitted edits;
#   - a release tarball (.tar, .tar.gz, .tgz, .tar.xz): the shallowest mongoose.c / mongoose.h in it
#     (the release's top level, not the copies under tutorials/);
#   - a directory holding mongoose.c and mongoose.h (not a git directory with them at that commit).
# CACHE_DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/postern. Exit 2: bad command line; 3: SOURCE
# holds no Mongoose sources (one line on stderr says why).
set -eu
usage() { echo "usage: source.sh SOURCE [CACHE_DIR]  (SOURCE: a Mongoose git directory, release tarball or source directory)" >&2; exit 2; }
fail() { echo "source.sh: $*" >&2; exit 3; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
src=$1
cache=${2:-"${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/postern"}
rev=${MONGOOSE_REV:-HEAD}
[ -e "$src" ] || fail "$src does not exist"
mkdir -p "$cache"
work=$(mktemp -d "$cache/.extract.XXXXXX")
trap 'rm -rf "$work"' EXIT

from_git() { # the two files of commit $rev, when $src is a git directory that has them there
  git -C "$src" rev-parse --git-dir >/dev/null 2>&1 || return 1
  git -C "$src" cat-file -e "$rev:mongoose.c" 2>/dev/null && git -C "$src" cat-file -e "$rev:mongoose.h" 2>/dev/null || return 1
  git -C "$src" show "$rev:mongoose.c" >"$work/mongoose.c" && git -C "$src" show "$rev:mongoose.h" >"$work/mongoose.h"
}

if [ -d "$src" ] && from_git; then
  :
elif [ -d "$src" ] && [ -f "$src/mongoose.c" ] && [ -f "$src/mongoose.h" ]; then
  cp "$src/mongoose.c" "$src/mongoose.h" "$work/"
elif [ -f "$src" ]; then
  # The shallowest member named mongoose.c (or .h): the release's own, not a tutorial's copy.
  list=$(tar -tf "$src" 2>/dev/null) || fail "$src is not a tar archive tar can read"
  for f in mongoose.c mongoose.h; do
    member=$(printf '%s\n' "$list" | awk -F/ -v f="$f" '$NF == f { print NF "\t" $0 }' | sort -n | head -n 1 | cut -f 2-)
    [ -n "$member" ] || fail "$src holds no $f"
    tar -xOf "$src" "$member" >"$work/$f" || fail "cannot extract $member from $src"
  done
else
  fail "$src is neither a git directory with mongoose.c and mongoose.h at $rev, a tarball, nor a directory holding them"
fi

version=$(sed -n 's/^[[:space:]]*#[[:space:]]*define[[:space:]]\{1,\}MG_VERSION[[:space:]]\{1,\}"\([^"[:space:]]*\)".*/\1/p' "$work/mongoose.h" | head -n 1)
[ -n "$version" ] || fail "the mongoose.h of $src declares no MG_VERSION"
dest="$cache/mongoose-$version"
rm -rf "$dest"
mv "$work" "$dest"
chmod 755 "$dest"
trap - EXIT
echo "source.sh: Mongoose $version in $dest" >&2
printf "export POSTERN_MONGOOSE_SRC='%s'\n" "$dest"
