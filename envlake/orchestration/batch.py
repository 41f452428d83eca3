"""Several ``airflow dags test`` runs in one process, one after another: Airflow's import and plugin loading
(5–9 s on these machines) is paid once instead of once per DAG. Each run is the real command line, parsed
by Airflow's own parser, with its output in its own log file.

    python -m envlake.orchestration.batch LOG_FOLDER DAG_ID [DAG_ID ...]

It prints ``start <dag_id>`` and ``done <dag_id>`` for the caller's progress, and stops at the first DAG that
fails with ``failed <dag_id>`` and exit status 1.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from envlake.orchestration.runner import FAILED_MARKERS, dags_test_args


def _run_one(parser, dag_id: str, dags_folder: Path, log_path: Path) -> bool:
    argv = dags_test_args(dag_id, dags_folder)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            args = parser.parse_args(argv)
            args.func(args)
            ok = True
        except SystemExit as exc:
            ok = not exc.code
        except Exception:  # any error fails this DAG; its traceback goes to its log
            traceback.print_exc()
            ok = False
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    text = log_path.read_text(errors="replace")
    return ok and not any(marker in text for marker in FAILED_MARKERS)


def main(argv: list[str]) -> int:
    logs, dag_ids = Path(argv[0]), argv[1:]
    logs.mkdir(parents=True, exist_ok=True)
    progress = os.fdopen(os.dup(1), "w", buffering=1)
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    dags_folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    for dag_id in dag_ids:
        progress.write(f"start {dag_id}\n")
        if not _run_one(parser, dag_id, dags_folder, logs / f"{dag_id}.log"):
            progress.write(f"failed {dag_id}\n")
            return 1
        progress.write(f"done {dag_id}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
