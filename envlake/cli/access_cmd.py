"""envlake access: departments, their tokens, and grants for conditional data (有条件共享), each step recorded."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

import typer

from envlake.access.audit import AuditLog, read_audit, step_recorder
from envlake.access.config import AccessSettings
from envlake.access.published_datasets import NothingPublished, PublishedCache
from envlake.access.store import AccessError, AccessStore, Grant
from envlake.cli.output import console, fail, print_json, print_table
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings

app = typer.Typer(help="Departments, tokens and grants for conditional data; the access audit.",
                  no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print as JSON.")]
BY = Annotated[str, typer.Option("--by", help="Who takes this step (recorded).")]
STATE_ZH = {"applied": "待审批", "approved": "生效", "pending": "未到期", "expired": "已过期", "rejected": "已驳回",
            "revoked": "已撤销"}


def _store() -> AccessStore:
    """The grants database; each step goes to the lake's audit as well."""
    settings = Settings.from_env()
    return AccessStore(AccessSettings.from_env(settings).db_url,
                       on_step=step_recorder(AuditLog(Lake(settings.lake), flush_seconds=0)))


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "data-office"


def _day(text: str | None, end: bool = False) -> datetime | None:
    if text is None:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        fail(f"{text!r} is not a date", "write it as YYYY-MM-DD")
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _run(step):
    try:
        return step()
    except AccessError as exc:
        fail(str(exc))


def _print_grants(grants: list[Grant], as_json: bool) -> None:
    now = datetime.now(UTC)
    if as_json:
        print_json({"grants": [g.as_dict(now) for g in grants]})
        return
    print_table("共享授权 — grants for conditional data",
                ["id", "department", "dataset", "columns", "purpose", "valid", "decided by", "state"],
                [[g.id, g.department, g.dataset, ", ".join(g.columns), g.purpose,
                  f"{g.valid_from:%Y-%m-%d} → {g.valid_to:%Y-%m-%d}", g.decided_by or "",
                  f"{STATE_ZH.get(g.state(now), '')} {g.state(now)}"] for g in grants])


@app.command("add-department")
def add_department(code: Annotated[str, typer.Argument(help="Short code, e.g. xihu_branch")],
                   name_zh: Annotated[str, typer.Option("--name-zh", help="The department's name in Chinese")],
                   by: BY = "", as_json: JSON = False) -> None:
    """Register a department and print its API token (shown once, stored hashed)."""
    token = _run(lambda: _store().add_department(code, name_zh, by or _actor()))
    if as_json:
        print_json({"department": code, "name_zh": name_zh, "token": token})
        return
    console.print(f"department {code} ({name_zh}) added. Its token, shown this once:\n{token}", highlight=False)


@app.command("rotate-token")
def rotate_token(code: str, by: BY = "", as_json: JSON = False) -> None:
    """Give a department a new token; the old one stops working at once."""
    token = _run(lambda: _store().rotate_token(code, by or _actor()))
    if as_json:
        print_json({"department": code, "token": token})
        return
    console.print(f"new token for {code}, shown this once:\n{token}", highlight=False)


@app.command("departments")
def departments(as_json: JSON = False) -> None:
    """The registered departments."""
    rows = _store().departments()
    if as_json:
        print_json({"departments": [{"code": d.code, "name_zh": d.name_zh, "active": d.active,
                                     "created_at": d.created_at.isoformat()} for d in rows]})
        return
    print_table("部门 — departments", ["code", "名称", "active", "since"],
                [[d.code, d.name_zh, d.active, f"{d.created_at:%Y-%m-%d}"] for d in rows])


@app.command("apply")
def apply(department: Annotated[str, typer.Option("--department", help="The applying department's code")],
          dataset: Annotated[str, typer.Option("--dataset", help="A shared dataset, e.g. dim_enterprise")],
          purpose: Annotated[str, typer.Option("--purpose", help="What the data is for (用途)")],
          columns: Annotated[str, typer.Option("--columns", help="Conditional columns, comma-separated, or *")] = "*",
          valid_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (today)")] = None,
          valid_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (a year on)")] = None,
          by: BY = "", as_json: JSON = False) -> None:
    """Apply, for a department, to see a dataset's conditional columns in the clear."""
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    try:
        published = PublishedCache(Settings.from_env()).get()
    except NothingPublished as exc:
        fail(str(exc))
    target = published.datasets.get(dataset)
    if target is None:
        fail(f"no shared dataset {dataset}", f"one of: {', '.join(sorted(published.datasets))}")
    if not target.grantable:
        fail(f"{dataset} has no conditional column: every department reads it already")
    unknown = [c for c in wanted if c != "*" and c not in target.grantable]
    if unknown:
        fail(f"{', '.join(unknown)} not conditional columns of {dataset}", f"they are {', '.join(target.grantable)}")
    start = _day(valid_from) or datetime.now(UTC).replace(microsecond=0)
    end = _day(valid_to, end=True) or start + timedelta(days=365)
    grant = _run(lambda: _store().apply(department, dataset, wanted, purpose, start, end, by or _actor()))
    if as_json:
        print_json(grant.as_dict())
        return
    console.print(f"application {grant.id} recorded: {department} asks for {dataset} "
                  f"({', '.join(grant.columns)}) — approve with `envlake access approve {grant.id} --by <name>`",
                  highlight=False)


@app.command("approve")
def approve(grant_id: int, by: BY = "", until: Annotated[str | None, typer.Option(
        "--to", help="Shorten the period: last day, YYYY-MM-DD")] = None,
            note: Annotated[str | None, typer.Option("--note")] = None, as_json: JSON = False) -> None:
    """Approve an application: the department sees those columns in the clear within the period."""
    grant = _run(lambda: _store().approve(grant_id, by or _actor(), _day(until, end=True), note))
    _print_grants([grant], as_json)


@app.command("reject")
def reject(grant_id: int, by: BY = "", note: Annotated[str | None, typer.Option("--note")] = None,
           as_json: JSON = False) -> None:
    """Reject an application."""
    _print_grants([_run(lambda: _store().reject(grant_id, by or _actor(), note))], as_json)


@app.command("revoke")
def revoke(grant_id: int, by: BY = "", note: Annotated[str | None, typer.Option("--note")] = None,
           as_json: JSON = False) -> None:
    """Revoke an approved grant: its columns are masked again from the next request on."""
    _print_grants([_run(lambda: _store().revoke(grant_id, by or _actor(), note))], as_json)


@app.command("grants")
def grants(department: Annotated[str | None, typer.Option("--department")] = None, as_json: JSON = False) -> None:
    """Every application and grant, with its state now."""
    _print_grants(_store().grants(department), as_json)


@app.command("steps")
def steps(department: Annotated[str | None, typer.Option("--department")] = None, as_json: JSON = False) -> None:
    """Every step taken on departments and grants: who, when, what."""
    rows = _store().steps(department)
    if as_json:
        print_json({"steps": rows})
        return
    print_table("授权操作记录 — access steps", ["at", "actor", "action", "department", "grant", "detail"],
                [[r["at"][:19], r["actor"], r["action"], r["department"], r["grant_id"] or "",
                  ", ".join(f"{k}={v}" for k, v in r["detail"].items())] for r in rows])


@app.command("audit")
def audit(department: Annotated[str | None, typer.Option("--department")] = None,
          last: Annotated[int, typer.Option("--last", help="Show the newest N requests")] = 30,
          as_json: JSON = False) -> None:
    """The access audit: each request, granted or refused, and why (from the lake's _meta/audit/)."""
    table = read_audit(Lake(Settings.from_env().lake), department)
    rows = table.slice(max(table.num_rows - last, 0)).to_pylist()
    if as_json:
        print_json({"requests": table.num_rows, "audit": rows})
        return
    print_table(f"访问审计 — last {len(rows)} of {table.num_rows} requests",
                ["at", "department", "channel", "action", "dataset / query", "rows", "clear", "outcome", "reason"],
                [[f"{r['requested_at']:%Y-%m-%d %H:%M:%S}", r["department"], r["channel"], r["action"],
                  (r["dataset"] or r["query"])[:60], r["rows"], r["clear_columns"], r["outcome"], r["reason"][:80]]
                 for r in rows])
