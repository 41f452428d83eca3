"""Land one batch of a dataset from a source: the one path shared by DAGs, CLI and demo.

Every batch that does not land leaves a ``failed`` load-log row, written before the error is raised,
whose message names the dataset, the file or table and the cause; the error (``BatchFailed``) carries
those rows, so what a caller prints is what the load log holds. A file that feeds a file group is
read and parsed once for all its datasets, before any of them lands: a fault of the file fails every
one of them, each with its own row, and what remains after a good parse are row-level faults, which
go to quarantine.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.files import FileSource, group_of
from connectors.hj212.source import Hj212FileSource
from connectors.http_api import HttpApiSource
from connectors.sources import Extract, Source, SourceError, failure_message, redact
from connectors.sql_table import SqlTableSource
from connectors.writer import LakeWriter
from connectors.xlsx import XlsxLimits
from envlake.kernel import load_log
from envlake.kernel.contracts import Contract, load_contract
from envlake.kernel.lake import Lake
from envlake.kernel.load_log import LoadRecord, new_run_id
from envlake.kernel.settings import Settings

SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")


class BatchFailed(SourceError):
    """A batch was not landed; its ``failed`` load-log rows, one per dataset, are written and carried here."""

    def __init__(self, records: list[LoadRecord]):
        self.records = records
        super().__init__("\n".join(r.message for r in records))


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
        return FileSource(url.removeprefix("file://"),
                          XlsxLimits(settings.xlsx_max_bytes, settings.xlsx_max_rows))
    raise SourceError(f"cannot read '{redact(url)}': use an http(s)://, postgresql://, mysql://, sqlite:/// URL "
                      "or a path")


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
    contract = load_contract(dataset, settings.schemas_dir)
    return [dataset, *sorted(c.id for c in group_of(contract) if c.id != dataset)]


def _record_failures(lake: Lake, contracts: list[Contract], source: str, exc: BaseException, started: datetime,
                     watermarks: dict[str, str | None]) -> BatchFailed:
    """Write a ``failed`` row for each dataset, before anything is raised."""
    records = []
    for contract in contracts:
        message = failure_message(contract.id, source, exc)
        if len(contracts) > 1:
            message += f"; nothing of file group {contract.source['file_group']} was landed"
        wm = watermarks.get(contract.id)
        record = LoadRecord(run_id=new_run_id(contract.id), dataset=contract.id, source=source, status="failed",
                            watermark_before=wm, watermark_after=wm, message=message, started_at=started)
        load_log.append(lake, record)
        records.append(record)
    return BatchFailed(records)


def _skipped(lake: Lake, contract: Contract, identity: str, started: datetime) -> LoadRecord | None:
    earlier = same_content_landed(lake, contract.id, identity)
    if not earlier:
        return None
    record = LoadRecord(run_id=new_run_id(contract.id), dataset=contract.id, source=identity, status="skipped",
                        started_at=started,
                        message=f"this file's content was landed on {earlier['finished_at']:%Y-%m-%d %H:%M} "
                                f"from {earlier['source'].split('#')[0]}")
    load_log.append(lake, record)
    return record


def _read(source: Source, contracts: list[Contract], watermarks: dict[str, str | None]) -> dict[str, Extract]:
    if isinstance(source, FileSource):
        return source.read_group(contracts, watermarks)  # one parse of the file for all of them
    return {c.id: source.read(c, watermarks[c.id]) for c in contracts}


def land_from(contracts: list[Contract], url: str, settings: Settings, lake: Lake) -> list[LoadRecord]:
    """Land one batch of each dataset from one source: read everything, then land. Raises BatchFailed,
    after writing the failed rows, when the source cannot be read or parsed, whatever the exception."""
    started = datetime.now(UTC)
    try:
        source = make_source(contracts[0], url, settings)
        identity = source.identity
    except Exception as exc:
        raise _record_failures(lake, contracts, redact(url), exc, started, {}) from exc
    records: dict[str, LoadRecord] = {}
    for contract in contracts:
        if (skipped := _skipped(lake, contract, identity, started)) is not None:
            records[contract.id] = skipped
    pending = [c for c in contracts if c.id not in records]
    watermarks = {c.id: load_log.last_watermark(lake, c.id, identity) for c in pending}
    try:
        extracts = _read(source, pending, watermarks) if pending else {}
    except Exception as exc:
        raise _record_failures(lake, pending, identity, exc, started, watermarks) from exc
    # A file group lands all of its datasets or none: one transaction stages every dataset's files and
    # commits them with their load-log rows; a failure rolls all of them back, each with a failed row.
    writer = LakeWriter(lake)
    landing: list[LoadRecord] = []
    txn = writer.transaction()
    try:
        with txn:
            for contract in pending:
                extract = extracts[contract.id]
                landing.append(writer.land(contract, extract.table, source=identity,
                                           run_id=new_run_id(contract.id),
                                           watermark_before=watermarks[contract.id],
                                           watermark_after=extract.watermark_after, rejected=extract.rejected,
                                           note=extract.note, transaction=txn))
    except Exception as exc:
        rolled_back = [m.record for m in txn.members]
        raise BatchFailed(rolled_back or landing) from exc
    records.update({r.dataset: r for r in landing})
    return [records[c.id] for c in contracts]


def ingest_group(dataset: str, source_url: str | None = None, *, settings: Settings | None = None,
                 lake: Lake | None = None) -> list[LoadRecord]:
    """Land a dataset, and the other datasets of its file group from the same file, parsed once."""
    settings = settings or Settings.from_env()
    lake = lake or Lake(settings.lake)
    contracts = [load_contract(member, settings.schemas_dir) for member in group_members(dataset, settings)]
    return land_from(contracts, _source_url(contracts[0], source_url, settings), settings, lake)


def ingest(dataset: str, source_url: str | None = None, *, settings: Settings | None = None,
           lake: Lake | None = None) -> LoadRecord:
    """Read one batch from the source and land it. Raises BatchFailed (a SourceError) when the source
    cannot be read, after recording the failed batch in the load log."""
    settings = settings or Settings.from_env()
    lake = lake or Lake(settings.lake)
    contract = load_contract(dataset, settings.schemas_dir)
    return land_from([contract], _source_url(contract, source_url, settings), settings, lake)[0]


def _source_url(contract: Contract, source_url: str | None, settings: Settings) -> str:
    return source_url or default_source_url(contract, settings)
