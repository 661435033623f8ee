#!/usr/bin/env bash
# Q6-style streaming (shared/bench/WORKLOADS.md): the 1M-row dataset published with
# `opendata publish`, then every row exported as CSV (and NDJSON) over HTTP by curl, while the
# server's peak RSS is read from /proc (VmHWM). Target: peak RSS < 300 MB while streaming.
# Writes one JSON line per export to bench/results/stream-<date>.json.
#
#   bash bench/stream.sh            # ROWS=1000000 by default
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
cargo build --release --locked --workspace --quiet

WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/datasets/ho-so-tthc"
ln -s "$DATA/ho_so_tthc.csv" "$WORK/datasets/ho-so-tthc/ho_so_tthc.csv"
cat > "$WORK/datasets/ho-so-tthc/metadata.json" <<'JSON'
{"id": "ho-so-tthc", "title": "Hồ sơ thủ tục hành chính (dữ liệu benchmark)", "license": "CC0-1.0",
 "publisher": {"id": "bench", "name": "Benchmark"}}
JSON
"$BIN" publish --data-dir "$WORK/data" "$WORK/datasets" > /dev/null
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
OPENDATA_RATE_LIMIT=off RUST_LOG=warn "$BIN" serve --data-dir "$WORK/data" --addr "127.0.0.1:$PORT" &
SERVER=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do sleep 0.1; done

rss() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER/status"; }
hwm() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER/status"; }
echo "server idle: $(rss) MB"

mkdir -p bench/results
RESULT=bench/results/stream-$(date +%Y-%m-%d).json
touch "$RESULT" # runs append: each line says its cache setting
for path in "download?format=csv" "records?format=csv" "records?format=ndjson" "records?format=geojson" "records?format=csv&where=le_phi%20%3E%3D%20500000&sort=-ngay_tiep_nhan"; do
    url="http://127.0.0.1:$PORT/api/v1/datasets/ho-so-tthc/$path"
    read -r secs bytes < <(curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$url")
    mb_s=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1e6 / s }')
    printf '%-60s %8.2f s %8.1f MB %7s MB/s   server peak RSS so far %s MB\n' "$path" "$secs" \
        "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$mb_s" "$(hwm)"
    printf '{"system": "opendata", "workload": "stream", "cache_bytes": "%s", "path": "%s", "seconds": %s, "bytes": %s, "mb_s": %s, "rss_mb": %s}\n' \
        "${OPENDATA_CACHE_BYTES:-default}" "$path" "$secs" "$bytes" "$mb_s" "$(hwm)" >> "$RESULT"
done
echo "wrote $RESULT"
