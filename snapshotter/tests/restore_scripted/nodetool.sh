#!/bin/sh
# nodetool stand-in that answers like Cassandra __VERSION__ for what a restore asks of it, modelled on
# Cassandra's own code: `import` (SSTableImporter: every SSTable found directly in each given directory,
# sub-directories not looked at, is renamed into the table directory under a new generation of the same
# version and format (ColumnFamilyStore.getUniqueDescriptorFor), and, with incremental_backups, hard-linked
# into backups/ when the tracker adds it); `refresh` (4.0+ prints its deprecation notice, then loads files
# placed in the table dir); `version`; `listsnapshots`. Every call is logged to __LOG__.
version='__VERSION__'; data='__DATA__'; yaml='__YAML__'; log='__LOG__'
echo "$*" >> "$log"
cmd="$1"; shift
major=${version%%.*}
next_generation() {
  # Above every numbered generation in the table dir and its backups/ (ColumnFamilyStore: "to prevent
  # generation conflicts"); a base-36 time-ordered id when uuid_sstable_identifiers_enabled (4.1+).
  if grep -q '^uuid_sstable_identifiers_enabled: true' "$yaml"; then
    n=$(cat "$1/.uuid-counter" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$1/.uuid-counter"
    printf '3gll_1kke_%s\n' "$(printf '%018d' "$n" | tr '0123456789' 'abcdefghij')"
    return
  fi
  max=0
  for f in "$1"/*-Data.db "$1"/backups/*-Data.db; do
    [ -f "$f" ] || continue
    g=$(basename "$f" | cut -d- -f2)
    case "$g" in *[!0-9]*|'') continue ;; esac
    [ "$g" -gt "$max" ] && max=$g
  done
  echo $((max + 1))
}
case "$cmd" in
  version) echo "ReleaseVersion: $version" ;;
  listsnapshots)
    echo "Snapshot Details: "
    echo "There are no snapshots" ;;
  refresh)
    [ "$major" -ge 4 ] && echo "nodetool refresh is deprecated, use nodetool import instead"
    [ $# -eq 2 ] || { echo "refresh requires ks and cf args" >&2; exit 1; } ;;
  import)
    while [ $# -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
    ks="$1"; table="$2"; shift 2
    tdir=$(ls -d "$data/$ks/$table"-* "$data/$ks/$table" 2>/dev/null | head -n 1)
    [ -d "$tdir" ] || { echo "error: Unknown keyspace/table $ks.$table" >&2; exit 1; }
    failed=
    for dir do
      [ -d "$dir" ] || { echo "error: Directory $dir does not exist" >&2; exit 1; }
      for d in "$dir"/*-Data.db; do
        [ -f "$d" ] || continue
        name=$(basename "$d"); prefix=${name%-Data.db}
        v=$(echo "$prefix" | cut -d- -f1); fmt=$(echo "$prefix" | cut -d- -f3)
        gen=$(next_generation "$tdir")
        for c in "$dir/$prefix"-*; do
          comp=${c##*/$prefix-}
          mv "$c" "$tdir/$v-$gen-$fmt-$comp" || failed="$failed $dir"
          if grep -q '^incremental_backups: true' "$yaml"; then
            mkdir -p "$tdir/backups" && ln "$tdir/$v-$gen-$fmt-$comp" "$tdir/backups/"
          fi
        done
      done
    done
    if [ -n "$failed" ]; then
      echo "Some directories failed to import, check server logs for details:" >&2
      for d in $failed; do echo "$d" >&2; done
      exit 1
    fi ;;
  *) echo "nodetool stand-in: $cmd is not supported" >&2; exit 1 ;;
esac
