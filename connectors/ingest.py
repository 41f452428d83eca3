"""Land one batch of a dataset from a source: the one path shared by DAGs, CLI and demo."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors import load_log
from connectors.contracts import Contract, load_contract
from connectors.files import FileSource
from connectors.hj212.source import Hj212FileSource
from connectors.http_api import HttpApiSource
from connectors.lakefs import Lake
from connectors.load_log import LoadRecord
from connectors.settings import Settings
from connectors.sources import Source, SourceError
from connectors.sql_table import SqlTableSource
from connectors.writer import LakeWriter, new_run_id

SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")


def default_source_url(contract: Contract, settings: Settings) -> str:
    protocol = contract.source["protocol"]
    if protocol == "http_json":
        return settings.api_url(contract.owner_department["code"])
    if protocol == "sql_table":
        return settings.credit_db_url
    if protocol == "file":
        return str(settings.sim_dir / "filedrops" / f"{contract.id}.csv")
    raise SourceError(f"dataset '{contract.id}' has no default source for protocol {protocol}; pass --from")


def make_source(contract: Contract, url: str, settings: Settings) -> Source:
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else "file"
    if scheme in ("http", "https"):
        endpoint = contract.source.get("endpoint")
        if not endpoint:
            raise SourceError(f"contract '{contract.id}' names no HTTP endpoint (source.endpoint)")
        return HttpApiSource(url, endpoint, timeout_s=settings.http_timeout_s, retries=settings.http_retries)
    if scheme in SQL_SCHEMES:
        table = contract.source.get("table")
        if not table:
            raise SourceError(f"contract '{contract.id}' names no table (source.table)")
        return SqlTableSource(url, table, batch_rows=settings.sql_batch_rows)
    if scheme in ("file", "s3"):
        if contract.source["protocol"] == "hj212_tcp":
            return Hj212FileSource(url.removeprefix("file://"))
        return FileSource(url.removeprefix("file://"))
    raise SourceError(f"cannot read '{url}': use an http(s)://, postgresql://, mysql://, sqlite:/// URL or a path")


def ingest(dataset: str, source_url: str | None = None, *, settings: Settings | None = None,
           lake: Lake | None = None) -> LoadRecord:
    """Read one batch from the source and land it. Raises SourceError when the source cannot be read."""
    settings = settings or Settings.from_env()
    lake = lake or Lake(settings.lake)
    contract = load_contract(dataset, settings.schemas_dir)
    url = source_url or default_source_url(contract, settings)
    source = make_source(contract, url, settings)
    watermark = load_log.last_watermark(lake, dataset, source.identity)
    run_id = new_run_id(dataset)
    started = datetime.now(UTC)
    try:
        extract = source.read(contract, watermark)
    except SourceError as exc:
        load_log.append(lake, LoadRecord(run_id=run_id, dataset=dataset, source=source.identity, status="failed",
                                         watermark_before=watermark, watermark_after=watermark,
                                         message=str(exc), started_at=started))
        raise
    return LakeWriter(lake).land(contract, extract.table, source=source.identity, run_id=run_id,
                                 watermark_before=watermark, watermark_after=extract.watermark_after,
                                 rejected=extract.rejected, note=extract.note)
