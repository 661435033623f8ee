# Sourced by the bench scripts: where the benchmark data and the release binary are, the 1M-row
# data generated once (cached), and the release build.
ROWS=${ROWS:-1000000}
CACHE=${BENCH_CACHE:-$HOME/.cache/opendata-bench}
DATA=$CACHE/data-$ROWS
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/opendata-target}
BIN=$CARGO_TARGET_DIR/release/opendata
SHARED=$(cd .. && pwd)/shared

if [ ! -s "$DATA/ho_so_tthc.csv" ]; then
    mkdir -p "$DATA"
    python3 "$SHARED/bench/make_bench_data.py" --rows "$ROWS" --out "$DATA"
fi
