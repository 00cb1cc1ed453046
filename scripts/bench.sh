#!/usr/bin/env bash
# The benchmark (issue 12): builds release, measures, and prints one table:
#
#   figure | now | floor | previous
#
# "previous" is the figure in the README's "Figures" section, so a change that
# makes one worse shows; `--update-readme` writes this run's figures there.
# Each row is one function below; a row whose measurement does not exist yet
# prints what is missing, so the table always has every figure of the issue.
#
#   bash scripts/bench.sh [--runs N] [--update-readme]
#
# --runs N: scheduled runs for the "after N runs" memory row (default 1000; at
# 10 runs a second). Takes about 25 min on 2 cores from a built tree, plus a
# release build when the sources changed (~13 min from scratch).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1000
update_readme=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --update-readme) update_readme=1; shift ;;
    *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=()

# A row: figure, now, floor ("" when there is none).
emit() { rows+=("$1|$2|$3"); }
missing() { emit "$1" "not measured yet ($2)" ""; }
# The README's value for a figure, between the figures markers.
previous() {
  awk -F'|' -v figure="$1" '
    /<!-- figures:start -->/ {on = 1; next}
    /<!-- figures:end -->/ {on = 0}
    on && NF > 3 {
      name = $2; gsub(/^ +| +$/, "", name)
      value = $3; gsub(/^ +| +$/, "", value)
      if (name == figure) print value
    }' README.md
}
measured() { awk -v k="$1" '$1 == k {print $2}' "$work/memory.txt"; }

# ---- build ----
build() {
  local started=$SECONDS
  bash scripts/deps.sh
  bash scripts/build-ui.sh >/dev/null
  echo "==> cargo build --release --workspace" >&2
  cargo build --release --workspace
  echo "==> release build: $((SECONDS - started)) s" >&2
}

# ---- the tray: memory and start-up (scripts/measure-memory.sh) ----
measure_tray() {
  echo "==> scripts/measure-memory.sh $runs (release)" >&2
  PROFILE=release MEASURE_OUT="$work/memory.txt" bash scripts/measure-memory.sh "$runs" >&2
}
memory_figure() { # state key -> "RSS 62.0 MiB, PSS 31.0 MiB, 1 process"
  local procs
  procs=$(measured "$1.processes")
  echo "RSS $(measured "$1.rss_mib") MiB, PSS $(measured "$1.pss_mib") MiB, $procs process$([ "$procs" = 1 ] || echo es)"
}
row_hidden() {
  emit "hidden in the tray, all processes" \
    "$(memory_figure hidden); GL: $(measured hidden.gl); WebKit: $(measured hidden.webkit)" ""
}
row_window_open() {
  emit "window open" "$(memory_figure open)" ""
}
row_window_closed() {
  emit "window closed after use, +10 s" \
    "$(memory_figure closed); WebKit: $(measured closed.webkit)" \
    "hidden at start: RSS $(measured hidden.rss_mib) MiB"
}
row_after_runs() {
  emit "after N scheduled runs" \
    "$(measured after_runs.count) runs: $(memory_figure after_runs); fds $(measured after_runs.fds), threads $(measured after_runs.threads)" \
    "before: RSS $(measured hidden.rss_mib) MiB; fds $(measured hidden.fds), threads $(measured hidden.threads)"
}
row_armed() {
  emit "start --hidden -> scheduler armed" "$(measured start.armed_ms) ms" ""
}
row_painted() {
  emit "start -> window loaded" "$(measured start.loaded_ms) ms" ""
  emit "tray Open -> window loaded" "$(measured open.loaded_ms) ms" ""
}

# ---- the package ----
row_package() {
  echo "==> scripts/package.sh" >&2
  local deb
  deb=$(bash scripts/package.sh | tail -1)
  emit "installed package size (.deb)" "$(awk -v b="$(stat -c %s "$deb")" 'BEGIN {printf "%.1f MB", b / 1e6}')" ""
}

# ---- the engine (cargo bench --bench overhead) ----
bench_engine() {
  echo "==> cargo bench --workspace --bench overhead" >&2
  cargo bench --workspace --bench overhead | tee "$work/overhead.txt" >&2
}
row_engine_overhead() {
  local overhead http
  overhead=$(grep -m1 '10-step plan through the facade' "$work/overhead.txt" | sed -n 's/.*engine overhead *\([0-9.]*\) µs\/step.*/\1/p')
  http=$(grep -m1 'HTTP round trip' "$work/overhead.txt" | sed -n 's/.*: *\([0-9.]*\) µs.*/\1/p')
  if [ -z "$overhead" ]; then
    missing "engine overhead per step, durable log included" "the overhead bench printed no '10-step plan through the facade' line"
    return
  fi
  emit "engine overhead per step, durable log included" "$overhead µs" \
    "HTTP round trip $http µs; one-row SQLite commit $(store_figure 'one-row SQLite commit'); the store's writes a step, alone, $(store_figure 'durable log writes per step')"
}

# ---- the webhook (cargo bench --bench triggers) ----
bench_triggers() {
  echo "==> cargo bench --workspace --bench triggers" >&2
  cargo bench --workspace --bench triggers | tee "$work/triggers.txt" >&2
}
row_webhook_sync() {
  local line
  line=$(grep -m1 'webhook sync, trivial plan' "$work/triggers.txt" || true)
  emit "webhook sync, 0-step plan, median / p95" \
    "$(sed -n 's/.*median *\([0-9.]*\) ms, p95 *\([0-9.]*\) ms .*(floor.*/\1 \/ \2 ms (a 1-step logic plan)/p' <<<"$line")" \
    "HTTP round trip $(sed -n 's/.*floor.*median *\([0-9.]*\) ms, p95 *\([0-9.]*\) ms).*/\1 \/ \2 ms/p' <<<"$line")"
}
row_webhook_throughput() {
  local line
  line=$(grep -m1 'clients, 10 GETs' "$work/triggers.txt" || true)
  emit "webhook, 10-step plan, 4 clients" \
    "$(sed -n 's/.*10 GETs: *\([0-9.]*\) runs\/s.*/\1 runs\/s/p' <<<"$line")" \
    "$(sed -n 's/.*(floor, \(.*\))$/\1/p' <<<"$line")"
}

# ---- the store (cargo bench --bench store) ----
bench_store() {
  echo "==> cargo bench --workspace --bench store" >&2
  cargo bench --workspace --bench store | tee "$work/store.txt" >&2
}
store_figure() { grep -m1 "$1" "$work/store.txt" | sed -n 's/.*: *\([0-9.]*\) *\(ms\|bytes\|µs\).*/\1 \2/p'; }
row_storage_per_run() {
  emit "storage per 10-step run" "$(store_figure 'storage per 10-step run')" ""
}
row_million_rows() {
  emit "1M step-log rows: Runs page / Dashboard stats / app start" \
    "$(store_figure 'first page of Runs') / $(store_figure 'Dashboard stats, 24 h') (30 days: $(store_figure 'Dashboard stats, 30 days')) / $(store_figure 'facade open')" ""
}

# ---- the CLI: a 1-step logic plan, the whole process ----
# The median of 50 runs, by the shell's clock; the floor is the same binary
# printing its version (process start, no store, no runtime).
median_ms() { # command... -> median wall time in ms over 50 runs
  local i start samples=()
  for i in $(seq 50); do
    start=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || true
    samples+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", (b - a) * 1000}')")
  done
  printf '%s\n' "${samples[@]}" | sort -n | awk '{v[NR] = $1} END {printf "%.1f", v[int((NR + 1) / 2)]}'
}
row_cli_run() {
  local cli=target/release/flowpilot-cli plan="$work/one-step.json"
  echo '{"name": "one step", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]}' >"$plan"
  FLOWPILOT_DATA_DIR="$work/cli-data" "$cli" run "$plan" >/dev/null 2>&1 || true # the schema, once
  emit "flowpilot-cli run, 1-step logic plan, whole process" \
    "$(FLOWPILOT_DATA_DIR="$work/cli-data" median_ms "$cli" run "$plan") ms" \
    "\`flowpilot-cli --version\` $(median_ms "$cli" --version) ms"
}

build
measure_tray
bench_engine
bench_triggers
bench_store
row_hidden
row_window_closed
row_window_open
row_after_runs
row_armed
row_painted
row_engine_overhead
row_webhook_sync
row_webhook_throughput
row_cli_run
row_storage_per_run
row_million_rows
row_package

table() {
  echo "| figure | now | floor | previous |"
  echo "|---|---|---|---|"
  local row figure
  for row in "${rows[@]}"; do
    figure=${row%%|*}
    echo "| $row | $(previous "$figure") |"
  done
}
echo
table | tee "$work/table.md"

if [ "$update_readme" = 1 ]; then
  {
    echo "| figure | value |"
    echo "|---|---|"
    for row in "${rows[@]}"; do
      IFS='|' read -r figure now _ <<<"$row"
      echo "| $figure | $now |"
    done
  } >"$work/figures.md"
  awk -v figures="$work/figures.md" '
    /<!-- figures:start -->/ {print; while ((getline line < figures) > 0) print line; skip = 1; next}
    /<!-- figures:end -->/ {skip = 0}
    !skip {print}' README.md >"$work/README.md"
  cp "$work/README.md" README.md
  echo "README.md: figures updated"
fi
