"""A thin client of the Airflow 3 REST API (``/api/v2``): what a data engineer does by hand on a cluster."""

from __future__ import annotations

import time
from typing import Any

import httpx

FINISHED = {"success", "failed"}


class AirflowApiError(RuntimeError):
    pass


class AirflowClient:
    def __init__(self, base_url: str, username: str = "admin", password: str = "admin", timeout_s: float = 30):
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout_s)
        answer = self.http.post("/auth/token", json={"username": username, "password": password})
        if answer.status_code >= 300:
            raise AirflowApiError(f"login to {self.base_url} refused ({answer.status_code}): {answer.text[:200]}")
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, f"/api/v2{path}", **kwargs)
        if answer.status_code >= 300:
            raise AirflowApiError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else None

    def wait_for_dags(self, dag_ids: list[str], timeout_s: float = 180) -> None:
        """Wait until the dag-processor has parsed every DAG named."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            known = {d["dag_id"] for d in self._call("GET", "/dags", params={"limit": 100})["dags"]}
            if set(dag_ids) <= known:
                return
            time.sleep(2)
        raise AirflowApiError(f"DAGs not parsed within {timeout_s:.0f} s: {sorted(set(dag_ids) - known)}")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str) -> str:
        run = self._call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self._call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def start_run(self, dag_id: str, appear_s: float = 30) -> str:
        """Unpause a DAG and return the run its schedule starts (the latest interval, or the asset events
        queued while it was paused); trigger one by hand when the schedule starts none within ``appear_s``."""
        before = {r["dag_run_id"] for r in self.runs(dag_id)}
        self.set_paused(dag_id, False)
        deadline = time.monotonic() + appear_s
        while time.monotonic() < deadline:
            new = [r for r in self.runs(dag_id) if r["dag_run_id"] not in before]
            if new:
                return new[0]["dag_run_id"]
            time.sleep(1)
        return self.trigger(dag_id)

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 600) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in FINISHED:
                return state
            time.sleep(2)
        raise AirflowApiError(f"{dag_id} run {run_id} not finished within {timeout_s:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                          params={"limit": 1000})["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """A task's log as text, wherever the worker that ran it was."""
        answer = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                            params={"full_content": True, "map_index": map_index},
                            headers={"Accept": "application/json"})
        content = answer.get("content", "")
        if isinstance(content, list):
            return "\n".join(e.get("event", "") if isinstance(e, dict) else str(e) for e in content)
        return str(content)
