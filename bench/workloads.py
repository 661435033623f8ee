"""The workloads of shared/bench/WORKLOADS.md as request paths, with their rotations.

    python3 bench/workloads.py DATA OUT      # writes OUT/Q1.txt … OUT/Q7.txt (one path a line)

Paths are for our API; the dataset ids are those `make bench` publishes (`ho-so-tthc`,
`don-vi-hanh-chinh`)."""

import calendar
import csv
import sys
import urllib.parse
from pathlib import Path

RECORDS = "/api/v1/datasets/ho-so-tthc/records?"
STATUSES = ["Đã trả kết quả", "Đang xử lý", "Quá hạn"]
TERMS = ["dang ky", "Đăng ký", "giay phep", "xây dựng", "khai sinh", "đất đai", "ho tich", "chứng thực"]


def districts(data: Path) -> list[str]:
    with open(data / "don_vi_hanh_chinh.csv", encoding="utf-8") as f:
        return sorted({row["quan_huyen"] for row in csv.DictReader(f)})


def q(params) -> str:
    return RECORDS + urllib.parse.urlencode(params)


def workloads(data: Path) -> dict[str, list[str]]:
    months = [(y, m) for y in (2023, 2024) for m in range(1, 13)]
    return {
        "Q1": [
            q([("quan_huyen", d), ("trang_thai", s), ("sort", "-ngay_tiep_nhan"), ("limit", "100")])
            for d in districts(data)
            for s in STATUSES
        ],
        "Q2": [
            q([
                ("le_phi__gte", str(fee)),
                ("ngay_tiep_nhan__gte", f"{y}-{m:02d}-01"),
                ("ngay_tiep_nhan__lte", f"{y}-{m:02d}-{calendar.monthrange(y, m)[1]:02d}"),
                ("select", "ma_ho_so,thu_tuc,phuong_xa,le_phi"),
                ("limit", "1000"),
            ])
            for fee in (0, 100000, 500000)
            for (y, m) in months
        ],
        "Q3": [q([("q", t), ("limit", "50")]) for t in TERMS],
        "Q4": [
            q([
                ("select", "quan_huyen,count(*),avg(so_ngay_xu_ly),sum(le_phi)"),
                ("group_by", "quan_huyen"),
                ("ngay_tiep_nhan__gte", f"{y}-01-01"),
                ("ngay_tiep_nhan__lte", f"{y}-12-31"),
            ])
            for y in (2023, 2024)
        ],
        "Q5": [q([("sort", "ma_ho_so"), ("offset", str(o)), ("limit", "100")]) for o in (100000, 250000, 500000, 750000, 900000)],
        "Q6": ["/api/v1/datasets/ho-so-tthc/download?format=csv"],
        "Q7": ["/api/v1/datasets/don-vi-hanh-chinh/records?limit=1000"],
    }


if __name__ == "__main__":
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name, paths in workloads(data).items():
        (out / f"{name}.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
