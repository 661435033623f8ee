#!/usr/bin/env bash
# I0 (shared/bench/WORKLOADS.md): `opendata ingest` of the 1M-row CSV to Parquet, against plain
# polars CSV -> Parquet (read_csv + write_parquet, the Python package) on the same file, in the
# same run. Prints wall time (median of RUNS) and peak RSS of each, and writes one JSON line per
# system to bench/results/ingest-<date>.json.
#
#   bash bench/ingest.sh            # ROWS=1000000 RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
source bench/common.sh
VENV=$CACHE/venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import polars" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check polars
fi
cargo build --release --locked --workspace --quiet

CSV=$DATA/ho_so_tthc.csv
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Wall seconds and peak RSS (MB) of a command, from GNU time.
measure() {
    /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" > /dev/null 2> "$OUT/stderr" || { cat "$OUT/stderr"; exit 1; }
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$OUT/time"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# The two systems take turns, run by run: this machine's speed drifts over minutes, and
# turns expose both to the same drift.
declare -A secs rss
: > "$OUT/opendata.runs"
: > "$OUT/polars.runs"
for _ in $(seq "$RUNS"); do
    measure "$BIN" ingest "$CSV" --out "$OUT/opendata.parquet" >> "$OUT/opendata.runs"
    measure "$VENV/bin/python" -c "import polars as pl, sys; pl.read_csv(sys.argv[1]).write_parquet(sys.argv[2])" \
        "$CSV" "$OUT/polars.parquet" >> "$OUT/polars.runs"
done
for system in opendata polars; do
    secs[$system]=$(cut -d' ' -f1 "$OUT/$system.runs" | median)
    rss[$system]=$(cut -d' ' -f2 "$OUT/$system.runs" | sort -n | tail -1)
done

mkdir -p bench/results
RESULT=bench/results/ingest-$(date +%Y-%m-%d).json
: > "$RESULT"
for system in opendata polars; do
    printf '{"system": "%s", "workload": "I0", "seconds": %s, "rss_mb": %s, "rows": %s}\n' \
        "$system" "${secs[$system]}" "${rss[$system]}" "$ROWS" >> "$RESULT"
done
ratio=$(awk -v a="${secs[opendata]}" -v b="${secs[polars]}" 'BEGIN { printf "%.2f", a / b }')
echo "I0 on $ROWS rows ($(du -h "$CSV" | cut -f1)), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), median of $RUNS:"
echo "| system | seconds | peak RSS MB |"
echo "|---|---|---|"
echo "| opendata ingest | ${secs[opendata]} | ${rss[opendata]} |"
echo "| polars read_csv + write_parquet | ${secs[polars]} | ${rss[polars]} |"
echo "ratio opendata / polars: $ratio (target <= 1.3); results in $RESULT"
