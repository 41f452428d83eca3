"""Reference-data file drops: the district list and the pollutant code table as CSV files."""

from __future__ import annotations

import csv
from pathlib import Path

from envlake.simulators.reference import DISTRICTS, POLLUTANTS, RETIRED_DISTRICTS


def write_filedrops(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    district = folder / "district.csv"
    with district.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["district_code", "district_name", "is_current", "successor_code", "valid_until"])
        for code, name, *_ in DISTRICTS:
            out.writerow([code, name, "true", "", ""])
        for code, name, successor, until in RETIRED_DISTRICTS:
            out.writerow([code, name, "false", successor, until])
    pollutant = folder / "pollutant_code.csv"
    with pollutant.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["pollutant_code", "code_2005", "pollutant_name", "category", "concentration_unit",
                      "amount_unit", "data_format"])
        for row in POLLUTANTS:
            out.writerow(["" if v is None else v for v in row])
    return [district, pollutant]
