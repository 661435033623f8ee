"""`make bench`: every workload of shared/bench/WORKLOADS.md against our server and its peers,
in one run on this machine, after checking each system's answers against the truth once.

    make bench                         # DURATION=30 WARMUP=5 ROWS=1000000 by default
    SYSTEMS=opendata,nginx DURATION=10 make bench

Systems: `opendata` (release build, data published with `opendata publish`), `nginx` (each
request's precomputed answer as a static file: the ceiling), `datasette` (sqlite-utils typed
tables, indexes on filtered and sorted columns, FTS5, ANALYZE, `--immutable`), `roapi` (the
Parquet files; REST where it has an equivalent, otherwise n/a), and `polars` for I0 (via
bench/ingest.sh). Load: wrk, 2 threads, 32 connections. Writes bench/results/<date>.json (one
JSON object a line) and prints a Markdown table of ratios."""

import csv
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache/opendata-bench"))
ROWS = int(os.environ.get("ROWS", "1000000"))
DURATION = int(os.environ.get("DURATION", "30"))
WARMUP = int(os.environ.get("WARMUP", "5"))
SYSTEMS = os.environ.get("SYSTEMS", "opendata,nginx,datasette,roapi").split(",")
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/opendata-target"))
BIN = TARGET / "release" / "opendata"
DATA = CACHE / f"data-{ROWS}"
WORKLOADS = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7"]

sys.path.insert(0, str(ROOT / "bench"))
import workloads as wl  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
                return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def fetch(url):
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.status, r.read()


def rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024)


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def wrk(base, paths, label):
    lua = CACHE / "rotate.lua"
    lua.write_text(
        'local paths = {}\nfor line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end\n'
        "local i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n"
    )
    listing = CACHE / f"paths-{label}.txt"
    listing.write_text("\n".join(paths) + "\n")
    env = dict(os.environ, PATHS=str(listing))
    args = ["wrk", "-t2", "-c32", "--latency", "-s", str(lua), base]
    if WARMUP:
        subprocess.run(args[:1] + [f"-d{WARMUP}s"] + args[1:], env=env, capture_output=True)
    out = subprocess.run(args[:1] + [f"-d{DURATION}s"] + args[1:], env=env, capture_output=True, text=True).stdout

    def ms(p):
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        v, unit = float(m.group(1)), m.group(2)
        return round(v / 1000 if unit == "us" else v * 1000 if unit == "s" else v, 2)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50_ms": ms(50), "p99_ms": ms(99), "errors": errors}


# ---------------------------------------------------------------- data, truth


def ensure_data():
    if not (DATA / "ho_so_tthc.csv").exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(SHARED / "bench/make_bench_data.py"), "--rows", str(ROWS), "--out", str(DATA)], check=True)


def truth():
    """The polars answers to the first request of each workload."""
    import polars as pl

    df = pl.read_csv(DATA / "ho_so_tthc.csv", try_parse_dates=True, infer_schema_length=10000)
    paths = wl.workloads(DATA)
    first = {k: urllib.parse.parse_qs(urllib.parse.urlsplit(v[0]).query) for k, v in paths.items()}
    t = {}
    q1 = first["Q1"]
    t["Q1"] = (
        df.filter((pl.col("quan_huyen") == q1["quan_huyen"][0]) & (pl.col("trang_thai") == q1["trang_thai"][0]))
        .sort(["ngay_tiep_nhan", "ma_ho_so"], descending=[True, False], maintain_order=True)
        .head(100)["ngay_tiep_nhan"].cast(pl.Utf8).to_list()
    )
    q2 = first["Q2"]
    t["Q2"] = (
        df.filter(
            (pl.col("le_phi") >= int(q2["le_phi__gte"][0]))
            & (pl.col("ngay_tiep_nhan") >= pl.lit(q2["ngay_tiep_nhan__gte"][0]).str.to_date())
            & (pl.col("ngay_tiep_nhan") <= pl.lit(q2["ngay_tiep_nhan__lte"][0]).str.to_date())
        )
        .head(1000)["ma_ho_so"].to_list()
    )
    fold = lambda e: e.str.to_lowercase().str.replace_all("đ", "d").str.normalize("NFD").str.replace_all(r"\p{M}", "")  # noqa: E731
    text = [c for c, d in df.schema.items() if d == pl.Utf8]
    cond = None
    import unicodedata

    term = first["Q3"]["q"][0].lower().replace("đ", "d")
    words = "".join(c for c in unicodedata.normalize("NFD", term) if not unicodedata.combining(c)).split()
    for w in words:
        any_ = None
        for c in text:
            m = fold(pl.col(c)).str.contains(r"(?:^|[^\p{L}\p{N}])" + w)
            any_ = m if any_ is None else any_ | m
        cond = any_ if cond is None else cond & any_
    t["Q3"] = sorted(df.filter(cond)["ma_ho_so"].to_list())
    q4 = first["Q4"]
    g = (
        df.filter(
            (pl.col("ngay_tiep_nhan") >= pl.lit(q4["ngay_tiep_nhan__gte"][0]).str.to_date())
            & (pl.col("ngay_tiep_nhan") <= pl.lit(q4["ngay_tiep_nhan__lte"][0]).str.to_date())
        )
        .group_by("quan_huyen")
        .agg(pl.len().alias("n"))
    )
    t["Q4"] = dict(zip(g["quan_huyen"].to_list(), g["n"].to_list()))
    off = int(first["Q5"]["offset"][0])
    # opendata orders text in Vietnamese dictionary order (ICU's `vi` collation); on these
    # codes (digits and punctuation in fixed places) it is also the byte order the others use.
    import icu

    vi = icu.Collator.createInstance(icu.Locale("vi"))
    t["Q5"] = sorted(df["ma_ho_so"].to_list(), key=vi.getSortKey)[off : off + 100]
    t["Q6"] = len(df)
    t["Q7"] = 526
    return t


def check(workload, rows, t):
    """True when a system's first answer agrees with the truth."""
    if workload == "Q1":
        return [r["ngay_tiep_nhan"] for r in rows] == t["Q1"]
    if workload == "Q2":
        return sorted(r["ma_ho_so"] for r in rows) == sorted(t["Q2"])
    if workload == "Q3":
        got = [r["ma_ho_so"] for r in rows]
        return len(got) == min(50, len(t["Q3"])) and set(got) <= set(t["Q3"])
    if workload == "Q4":
        return {r["quan_huyen"]: r.get("count", r.get("count(*)")) for r in rows} == t["Q4"]
    if workload == "Q5":
        return [r["ma_ho_so"] for r in rows] == t["Q5"]
    if workload == "Q7":
        return len(rows) == t["Q7"]
    return True


# ---------------------------------------------------------------- systems


def opendata_paths():
    return wl.workloads(DATA)


def datasette_paths(paths):
    db = f"/bench-{ROWS}"  # Datasette names a database after its file
    out = {}
    for w, ps in paths.items():
        conv = []
        for p in ps:
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))
            if w == "Q1":
                conv.append(f"{db}/ho_so_tthc.json?" + urllib.parse.urlencode(
                    {"quan_huyen": q["quan_huyen"], "trang_thai": q["trang_thai"], "_sort_desc": "ngay_tiep_nhan", "_size": 100, "_shape": "array"}))
            elif w == "Q2":
                conv.append(f"{db}/ho_so_tthc.json?" + urllib.parse.urlencode(
                    [("le_phi__gte", q["le_phi__gte"]), ("ngay_tiep_nhan__gte", q["ngay_tiep_nhan__gte"]),
                     ("ngay_tiep_nhan__lte", q["ngay_tiep_nhan__lte"]), ("_col", "ma_ho_so"), ("_col", "thu_tuc"),
                     ("_col", "phuong_xa"), ("_col", "le_phi"), ("_size", 1000), ("_shape", "array")]))
            elif w == "Q3":
                conv.append(f"{db}/ho_so_tthc.json?" + urllib.parse.urlencode({"_search": q["q"], "_size": 50, "_shape": "array"}))
            elif w == "Q4":
                sql = ("select quan_huyen, count(*) as count, avg(so_ngay_xu_ly), sum(le_phi) from ho_so_tthc "
                       "where ngay_tiep_nhan >= :a and ngay_tiep_nhan <= :b group by quan_huyen")
                conv.append(f"{db}.json?" + urllib.parse.urlencode(
                    {"sql": sql, "a": q["ngay_tiep_nhan__gte"], "b": q["ngay_tiep_nhan__lte"], "_shape": "array"}))
            elif w == "Q5":
                sql = f"select * from ho_so_tthc order by ma_ho_so limit 100 offset {int(q['offset'])}"
                conv.append(f"{db}.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"}))
            elif w == "Q6":
                conv.append(f"{db}/ho_so_tthc.csv?_stream=on&_size=max")
            elif w == "Q7":
                conv.append(f"{db}/don_vi_hanh_chinh.json?_size=1000&_shape=array")
        out[w] = conv
    return out


def roapi_paths(paths):
    out = {}
    for w, ps in paths.items():
        conv = []
        for p in ps:
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))
            if w == "Q1":
                conv.append("/api/tables/ho_so_tthc?" + urllib.parse.urlencode(
                    {"filter[quan_huyen]": f"'{q['quan_huyen']}'", "filter[trang_thai]": f"'{q['trang_thai']}'",
                     "sort": "-ngay_tiep_nhan", "limit": 100}))
            elif w == "Q2":
                conv.append("/api/tables/ho_so_tthc?" + urllib.parse.urlencode(
                    {"columns": "ma_ho_so,thu_tuc,phuong_xa,le_phi", "filter[le_phi]gte": q["le_phi__gte"],
                     "filter[ngay_tiep_nhan]gte": f"'{q['ngay_tiep_nhan__gte']}'",
                     "filter[ngay_tiep_nhan]lte": f"'{q['ngay_tiep_nhan__lte']}'", "limit": 1000}))
            elif w == "Q7":
                conv.append("/api/tables/don_vi_hanh_chinh?limit=1000")
        if conv:
            out[w] = conv
    return out


class Server:
    def __init__(self, args, cwd=None, env=None):
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except Exception:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except Exception:
                pass


def run_system(name, base, paths, server, t, results, answers=None):
    for w in WORKLOADS:
        if w not in paths:
            log(f"  {name} {w}: no equivalent request")
            continue
        if w == "Q6":
            url = base + paths[w][0]
            # Warm-up as for the other workloads: downloads for WARMUP seconds (at least one),
            # then one timed download, with the server's peak RSS sampled while it streams.
            warm_until = time.time() + WARMUP
            fetch(url)
            while time.time() < warm_until:
                fetch(url)
            peak = [rss_mb(server.pids())]
            done = threading.Event()

            def sample():
                while not done.wait(0.05):
                    peak[0] = max(peak[0], rss_mb(server.pids()))

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.time()
            status, body = fetch(url)
            secs = time.time() - started
            done.set()
            sampler.join()
            lines = body.count(b"\n") - 1
            ok = status == 200 and lines >= t["Q6"]
            rec = {"system": name, "workload": w, "mb_s": round(len(body) / 1e6 / secs, 1), "seconds": round(secs, 2),
                   "rss_mb": max(peak[0], rss_mb(server.pids())), "errors": 0 if ok else 1, "correct": ok}
            results.append(rec)
            log(f"  {name} Q6: {rec}")
            continue
        status, body = fetch(base + paths[w][0])
        rows = json.loads(body) if status == 200 else []
        if isinstance(rows, dict):
            rows = rows.get("items", rows.get("rows", []))
        if answers is not None:
            answers[w] = rows
        ok = status == 200 and check(w, rows, t)
        rec = {"system": name, "workload": w, "correct": ok}
        if ok:
            rec.update(wrk(base, paths[w], f"{name}-{w}"))
        else:
            rec.update({"rps": None, "p50_ms": None, "p99_ms": None, "errors": None})
        rec["rss_mb"] = rss_mb(server.pids())
        results.append(rec)
        log(f"  {name} {w}: {rec}")


def main():
    ensure_data()
    subprocess.run(["cargo", "build", "--release", "--locked", "--workspace", "--quiet"], cwd=ROOT, check=True)
    served = CACHE / f"served-{ROWS}"
    for ds, file in (("ho-so-tthc", "ho_so_tthc.csv"), ("don-vi-hanh-chinh", "don_vi_hanh_chinh.csv")):
        folder = served / "datasets" / ds
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / file
        if not link.exists():
            link.symlink_to(DATA / file)
        (folder / "metadata.json").write_text(json.dumps(
            {"id": ds, "title": ds, "license": "CC0-1.0", "publisher": {"id": "bench", "name": "Benchmark"}}))
    subprocess.run([str(BIN), "publish", "--data-dir", str(served / "data"), str(served / "datasets")], check=True,
                   env=dict(os.environ, RUST_LOG="warn"), stdout=subprocess.DEVNULL)
    log("computing the truth with polars")
    t = truth()
    paths = opendata_paths()
    results = []

    # Ours first: its answers also become nginx's static files.
    port = free_port()
    # The benchmark measures the engine, not the throttle: wrk's 32 connections from one address
    # are far past the per-client budgets.
    print("opendata: rate limits off for the benchmark (OPENDATA_RATE_LIMIT=off)", flush=True)
    ours = Server([str(BIN), "serve", "--data-dir", str(served / "data"), "--addr", f"127.0.0.1:{port}"],
                  env=dict(os.environ, RUST_LOG="warn", OPENDATA_RATE_LIMIT="off"))
    base = f"http://127.0.0.1:{port}"
    wait_http(base + paths["Q7"][0])
    wait_http(base + paths["Q1"][0])
    if "opendata" in SYSTEMS or "nginx" in SYSTEMS:
        log("opendata")
        if "opendata" in SYSTEMS:
            run_system("opendata", base, paths, ours, t, results)
        if "nginx" in SYSTEMS:
            docroot = CACHE / "nginx-root"
            shutil.rmtree(docroot, ignore_errors=True)
            static = {}
            for w, ps in paths.items():
                (docroot / w).mkdir(parents=True)
                static[w] = []
                for i, p in enumerate(ps):
                    ext = "csv" if w == "Q6" else "json"
                    body = fetch(base + p)[1]
                    if w not in ("Q6",):
                        body = json.dumps(json.loads(body)["items"] if w != "Q7" else json.loads(body)["items"]).encode()
                    (docroot / w / f"{i}.{ext}").write_bytes(body)
                    static[w].append(f"/{w}/{i}.{ext}")
    ours.stop()

    if "nginx" in SYSTEMS:
        log("nginx")
        nport = free_port()
        conf = CACHE / "nginx.conf"
        (CACHE / "nginx-tmp").mkdir(exist_ok=True)
        # As root, workers would drop to `nobody`, who cannot read the cache folder.
        user = "user root root; " if os.geteuid() == 0 else ""
        conf.write_text(f"""{user}worker_processes 2; daemon off; pid {CACHE}/nginx.pid; error_log /dev/null;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path {CACHE}/nginx-tmp; proxy_temp_path {CACHE}/nginx-tmp; fastcgi_temp_path {CACHE}/nginx-tmp;
  uwsgi_temp_path {CACHE}/nginx-tmp; scgi_temp_path {CACHE}/nginx-tmp;
  types {{ application/json json; text/csv csv; }}
  server {{ listen 127.0.0.1:{nport}; root {docroot}; }} }}
""")
        ng = Server(["nginx", "-c", str(conf), "-p", str(CACHE)])
        nbase = f"http://127.0.0.1:{nport}"
        wait_http(nbase + static["Q7"][0])
        run_system("nginx", nbase, static, ng, t, results)
        ng.stop()

    venv = CACHE / "venv" / "bin"
    if "datasette" in SYSTEMS:
        log("datasette")
        db = CACHE / f"bench-{ROWS}.db"
        if not db.exists():
            import sqlite3

            tmp = db.with_suffix(".tmp")
            su = str(venv / "sqlite-utils")
            have = {r[0] for r in sqlite3.connect(tmp).execute("select name from sqlite_master where type = 'table'")}
            for name, file in (("ho_so_tthc", "ho_so_tthc.csv"), ("don_vi_hanh_chinh", "don_vi_hanh_chinh.csv")):
                if name not in have:
                    subprocess.run([su, "insert", str(tmp), name, str(DATA / file), "--csv"], check=True)
            for cols in (["quan_huyen"], ["trang_thai"], ["ngay_tiep_nhan"], ["le_phi"], ["ma_ho_so"],
                         ["quan_huyen", "trang_thai", "--", "-ngay_tiep_nhan"]):
                subprocess.run([su, "create-index", "--if-not-exists", str(tmp), "ho_so_tthc", *cols], check=True)
            if "ho_so_tthc_fts" not in have:
                subprocess.run([su, "enable-fts", str(tmp), "ho_so_tthc", "thu_tuc", "linh_vuc", "quan_huyen", "phuong_xa",
                                "trang_thai", "hinh_thuc_nop", "--fts5", "--tokenize", "unicode61 remove_diacritics 2"], check=True)
            subprocess.run([su, "analyze", str(tmp)], check=True)
            tmp.rename(db)
        dport = free_port()
        ds = Server([str(venv / "datasette"), "serve", "--immutable", str(db), "--port", str(dport),
                     "--setting", "sql_time_limit_ms", "60000", "--setting", "num_sql_threads", "2"])
        dbase = f"http://127.0.0.1:{dport}"
        dpaths = datasette_paths(paths)
        wait_http(dbase + dpaths["Q7"][0])
        run_system("datasette", dbase, dpaths, ds, t, results)
        ds.stop()

    if "roapi" in SYSTEMS:
        log("roapi")
        blobs = served / "data" / "blobs"
        big = next((blobs / "ho-so-tthc").glob("*.parquet"))
        small = next((blobs / "don-vi-hanh-chinh").glob("*.parquet"))
        rport = free_port()
        ro = Server([str(venv / "roapi"), "-a", f"127.0.0.1:{rport}", "-t", f"ho_so_tthc={big}", "-t", f"don_vi_hanh_chinh={small}"])
        rbase = f"http://127.0.0.1:{rport}"
        rpaths = roapi_paths(paths)
        wait_http(rbase + rpaths["Q7"][0])
        run_system("roapi", rbase, rpaths, ro, t, results)
        ro.stop()

    if "polars" in SYSTEMS or "opendata" in SYSTEMS:
        log("I0 (bench/ingest.sh)")
        subprocess.run(["bash", str(ROOT / "bench/ingest.sh")], cwd=ROOT, check=True, env=dict(os.environ, ROWS=str(ROWS)))
        for line in (ROOT / f"bench/results/ingest-{datetime.date.today()}.json").read_text().splitlines():
            results.append(json.loads(line))

    out = ROOT / "bench" / "results" / f"{datetime.date.today()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # A run of some systems keeps today's figures of the others.
    ran = {(r["system"], r["workload"]) for r in results}
    if out.exists():
        kept = [json.loads(l) for l in out.read_text().splitlines() if l.strip()]
        results = [r for r in kept if (r["system"], r["workload"]) not in ran] + results
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    print(table(results))
    log(f"wrote {out}")


def table(results):
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    by = {(r["system"], r["workload"]): r for r in results}
    lines = [f"{datetime.date.today()}, {os.cpu_count()} cores ({cpu}), {ROWS:,} rows, wrk -t2 -c32 -d{DURATION}s", "",
             "| workload | opendata | nginx | datasette | roapi | opendata / nginx | opendata / datasette |", "|---|---|---|---|---|---|---|"]

    def fig(r, w):
        if r is None:
            return "n/a"
        if not r.get("correct", True):
            return "wrong answer"
        if w == "Q6":
            return f"{r['mb_s']} MB/s, {r['rss_mb']} MB RSS"
        if w == "I0":
            return f"{r['seconds']} s, {r['rss_mb']} MB"
        return f"{r['rps']:.0f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"

    def ratio(a, b, w):
        if not a or not b or not a.get("correct", True) or not b.get("correct", True):
            return "n/a"
        key = "mb_s" if w == "Q6" else "rps"
        if w == "I0":
            return f"{a['seconds'] / b['seconds']:.2f}× the time"
        return f"{a[key] / b[key]:.1%}" if b.get(key) else "n/a"

    for w in WORKLOADS:
        o, n, d, ro = (by.get((s, w)) for s in ("opendata", "nginx", "datasette", "roapi"))
        lines.append(f"| {w} | {fig(o, w)} | {fig(n, w)} | {fig(d, w)} | {fig(ro, w)} | {ratio(o, n, w)} | {ratio(o, d, w)} |")
    o, p = by.get(("opendata", "I0")), by.get(("polars", "I0"))
    lines.append(f"| I0 | {fig(o, 'I0')} | | | polars: {fig(p, 'I0')} | {ratio(o, p, 'I0')} (of polars) | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
