"""A department reading the published catalog, read-only, in its own process, while the lake is rebuilt.

``CatalogReader(catalog)`` starts it; ``stop()`` ends it and returns {"queries", "errors", "error_count"}.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPT = """
import duckdb, json, os, sys, time
catalog, stop = sys.argv[1], sys.argv[2]
done, errors = 0, []
while not os.path.exists(stop):
    try:
        con = duckdb.connect(catalog, read_only=True)
        con.execute("select count(*), min(overall_rank) from shared.mart_district_scorecard").fetchone()
        con.execute("select count(*), max(aqi) from shared.fct_air_quality_daily").fetchone()
        con.close()
        done += 1
    except Exception as exc:
        errors.append(str(exc))
    time.sleep(0.5)  # a department now and then, not a busy loop stealing a core from the build
print(json.dumps({"queries": done, "errors": errors[:5], "error_count": len(errors)}))
"""


class CatalogReader:
    def __init__(self, catalog: Path):
        self.stop_file = Path(tempfile.mkdtemp(prefix="envlake-reader-")) / "stop"
        self.process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(catalog), str(self.stop_file)],
                                        stdout=subprocess.PIPE, text=True)

    def stop(self) -> dict:
        self.stop_file.touch()
        try:
            return json.loads(self.process.communicate(timeout=120)[0])
        finally:
            shutil.rmtree(self.stop_file.parent, ignore_errors=True)
