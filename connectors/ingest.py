"""Land one batch of a dataset from a source: the one path shared by DAGs, CLI and demo."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors import load_log
from connectors.contracts import Contract, load_contract, load_contracts
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


def same_content_landed(lake: Lake, dataset: str, identity: str) -> dict | None:
    """The earlier successful landing of the same file content (identities ending in the same hash)."""
    if "#sha256:" not in identity:
        return None
    digest = identity.rsplit("#sha256:", 1)[1]
    for row in reversed(load_log.read(lake, dataset).to_pylist()):
        if row["status"] == "success" and row["source"].endswith(f"#sha256:{digest}"):
            return row
    return None


def group_members(dataset: str, settings: Settings) -> list[str]:
    """The dataset and the others of its file group (landed from the same file), or the dataset alone."""
    group = load_contract(dataset, settings.schemas_dir).source.get("file_group")
    if not group:
        return [dataset]
    others = sorted(c.id for c in load_contracts(settings.schemas_dir).values()
                    if c.source.get("file_group") == group and c.id != dataset)
    return [dataset, *others]


def ingest_group(dataset: str, source_url: str | None = None, *, settings: Settings | None = None,
                 lake: Lake | None = None) -> list[LoadRecord]:
    """Land a dataset, and the other datasets of its file group from the same file."""
    settings = settings or Settings.from_env()
    lake = lake or Lake(settings.lake)
    return [ingest(member, source_url, settings=settings, lake=lake) for member in group_members(dataset, settings)]


def ingest(dataset: str, source_url: str | None = None, *, settings: Settings | None = None,
           lake: Lake | None = None) -> LoadRecord:
    """Read one batch from the source and land it. Raises SourceError when the source cannot be read."""
    settings = settings or Settings.from_env()
    lake = lake or Lake(settings.lake)
    contract = load_contract(dataset, settings.schemas_dir)
    url = source_url or default_source_url(contract, settings)
    source = make_source(contract, url, settings)
    try:
        identity = source.identity
    except OSError as exc:
        raise SourceError(f"cannot read {url}: {exc}") from exc
    run_id = new_run_id(dataset)
    started = datetime.now(UTC)
    earlier = same_content_landed(lake, dataset, identity)
    if earlier:
        record = LoadRecord(run_id=run_id, dataset=dataset, source=identity, status="skipped", started_at=started,
                            message=f"this file's content was landed on {earlier['finished_at']:%Y-%m-%d %H:%M} "
                                    f"from {earlier['source'].split('#')[0]}")
        load_log.append(lake, record)
        return record
    watermark = load_log.last_watermark(lake, dataset, identity)
    try:
        extract = source.read(contract, watermark)
    except SourceError as exc:
        load_log.append(lake, LoadRecord(run_id=run_id, dataset=dataset, source=identity, status="failed",
                                         watermark_before=watermark, watermark_after=watermark,
                                         message=str(exc), started_at=started))
        raise
    return LakeWriter(lake).land(contract, extract.table, source=identity, run_id=run_id,
                                 watermark_before=watermark, watermark_after=extract.watermark_after,
                                 rejected=extract.rejected, note=extract.note)
