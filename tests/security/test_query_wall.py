"""The first wall alone: a department's DuckDB session, given SQL that never went through the gate, opens no file
but its views' own, however the path is spelled, and refuses to serve when its settings are not as set."""

from __future__ import annotations

import os

import duckdb
import pytest

from envlake.access import engine as engine_module
from envlake.access.engine import Engine, QueryFailed, SessionUnsafe, session_files
from envlake.access.sqlguard import SqlRefused
from tests.security.conftest import Canaries, QueryApi

pytestmark = pytest.mark.integration


def spellings(path: str) -> dict[str, str]:
    """One file, named every way DuckDB might accept."""
    folder, name = os.path.split(path)
    parent, leaf = os.path.split(folder)
    return {
        "plain": path,
        "doubled slashes": folder.replace("/", "//", 2) + "//" + name,
        "dot segment": f"{folder}/./{name}",
        "dot-dot": f"{folder}/../{leaf}/{name}",
        "file uri": f"file://{path}",
        "relative": os.path.relpath(path),
        "home": "~/" + os.path.relpath(path, os.path.expanduser("~")),
        "glob in the folder": f"{folder}/*",
        "glob of the zone": f"{parent}/**/*.parquet",
        "character class": f"{folder}/[p]art-0.parquet" if name == "part-0.parquet" else f"{folder}/?{name[1:]}",
    }


READERS = {
    "quoted path as a table": lambda p: f"select * from '{p}'",
    "double-quoted path as a table": lambda p: 'select * from "{}"'.format(p.replace('"', '""')),
    "read_parquet": lambda p: f"select * from read_parquet('{p}')",
    "a list beside an allowed file": lambda p: "select * from read_parquet(['{allowed}', '" + p + "'])",
    "a struct argument": lambda p: f"select * from read_parquet({{'f': '{p}'}}.f)",
    "read_csv": lambda p: f"select * from read_csv('{p}')",
    "read_text": lambda p: f"select * from read_text('{p}')",
    "read_blob": lambda p: f"select * from read_blob('{p}')",
    "glob": lambda p: f"select * from glob('{p}')",
    "parquet_metadata": lambda p: f"select * from parquet_metadata('{p}')",
    "query_table": lambda p: f"select * from query_table('{p}')",
    "query": lambda p: "select * from query('select * from ''" + p + "''')",
}


def _session(api: QueryApi, code: str) -> tuple[str, dict]:
    published, mine = api.service._views(api.service.department(code))
    return published.version, mine


def _grant(api: QueryApi, code: str) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    grant = api.service.store.apply(code, "dim_enterprise", ["*"], "核查", now - timedelta(days=1),
                                    now + timedelta(days=1), "test")
    api.service.store.approve(grant.id, "数据办")


@pytest.mark.parametrize("granted", [False, True], ids=["no grant", "granted dim_enterprise"])
def test_no_spelling_of_a_path_outside_the_views_opens_a_file(query_api: QueryApi, canaries: Canaries,
                                                              granted: bool) -> None:
    code, _ = query_api.department("wall")
    if granted:
        _grant(query_api, code)
    version, mine = _session(query_api, code)
    allowed = session_files(mine)
    assert (canaries.curated in allowed) is granted and (canaries.shared in allowed) is not granted
    assert not any("/_meta/" in f or "canary" in f for f in allowed)
    # a symlink to an allowed file is that file (DuckDB resolves links): only links elsewhere must be refused
    forbidden = [f for f in canaries.forbidden_files if os.path.realpath(f) not in allowed]
    assert (canaries.symlink in forbidden) is not granted
    opened = []
    for path in forbidden:
        for spelling, spelled in spellings(path).items():
            for reader, make in READERS.items():
                sql = make(spelled).replace("{allowed}", allowed[0])
                try:
                    table, _ = query_api.service.engine.run(version, mine, sql)
                except SqlRefused as exc:
                    assert "locked session refused" in str(exc)
                    continue
                except QueryFailed as exc:  # refused before any file: it must not name one as read
                    assert "permission" not in str(exc).lower()
                    continue
                opened.append((path, spelling, reader, table.num_rows))
    assert not opened, f"the session opened files outside its views: {opened[:5]}"


def test_the_session_reads_its_own_files_and_shows_only_them(query_api: QueryApi, canaries: Canaries) -> None:
    code, _ = query_api.department("wall")
    version, mine = _session(query_api, code)
    run = query_api.service.engine.run
    table, _ = run(version, mine, "select current_setting('allowed_paths') as p, "
                                  "current_setting('allowed_directories') as d, "
                                  "current_setting('enable_external_access') as e, "
                                  "current_setting('lock_configuration') as l")
    row = table.to_pylist()[0]
    assert sorted(row["p"]) == list(session_files(mine)) and row["d"] == [] and row["e"] is False and row["l"]
    own, _ = run(version, mine, f"select count(*) as n from '{canaries.shared}'")
    assert own.column("n")[0].as_py() > 0
    for sql in ("set enable_external_access = true", "set allowed_paths = []", "reset lock_configuration",
                f"attach '{canaries.meta_parquet}.duckdb' as other", "install httpfs", "load httpfs"):
        with pytest.raises((SqlRefused, QueryFailed)):
            run(version, mine, sql)


def test_a_session_whose_settings_do_not_read_back_is_not_served(query_api: QueryApi,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code, headers = query_api.department("unsafe")
    real = engine_module._expected
    monkeypatch.setattr(engine_module, "_expected", lambda files, limits: {**real(files, limits), "threads": 97})
    query_api.service.engine = Engine(query_api.service.engine.limits)
    response = query_api.client.post("/query", headers=headers, json={"sql": "select 1"})
    assert response.status_code == 503 and "threads" in response.json()["detail"]
    with pytest.raises(SessionUnsafe):
        Engine().run(*_session(query_api, code), "select 1")
    [row] = [r for r in query_api.rows(code) if r["action"] == "query"]
    assert row["outcome"] == "failed" and "will not serve" in row["reason"]


def test_a_session_whose_wall_lets_a_probe_through_is_not_served(canaries: Canaries) -> None:
    """The probe on a connection left open (external access on): it is not refused, so nothing is served."""
    open_connection = duckdb.connect(":memory:")
    try:
        with pytest.raises(SessionUnsafe, match=r"not a refusal|let"):
            engine_module._probe(open_connection, (canaries.shared,))
    finally:
        open_connection.close()
