"""File connector: a file dropped by a department (CSV in UTF-8 or GB18030, XLSX, JSON lines, Parquet).

Text formats are read with every column as text, so codes keep their leading zeros; the writer
casts to the contract's types. Headers may be the fields' names or their Chinese names (``name_zh``).
Datasets of one ``file_group`` come from the same file, which is read and parsed once for all of
them: a fault of the file (undecodable, damaged, an oversize XLSX, a header given twice, also after
Chinese names are mapped) fails the whole group before anything lands. Each dataset then takes the
columns of its own fields, and exact repeats (a manifest repeated on each of its item rows) are
dropped. A file whose content was landed before is recognised by the content hash in its identity.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from connectors.sources import Extract, SourceError, max_watermark
from connectors.xlsx import XlsxLimits, read_first_sheet
from envlake.kernel.contracts import Contract, load_contracts

ENCODINGS = ("utf-8-sig", "gb18030")
PARSE_ERRORS = (pa.ArrowException, csv.Error, UnicodeError, ValueError, KeyError, OSError)


def decode_text(blob: bytes, where: str) -> str:
    for encoding in ENCODINGS:
        try:
            return blob.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SourceError(f"cannot read {where}: neither UTF-8 nor GB18030 text")


def named_columns(header: list[object], columns: list[pa.Array]) -> pa.Table:
    """A table from a file's header and columns. A header given twice is a fault of the file (which
    column is the value?); a column without a header is dropped when it holds nothing (a spreadsheet's
    formatted but empty cells) and a fault when it holds values."""
    names: list[str] = []
    kept: list[pa.Array] = []
    seen: dict[str, int] = {}
    for position, (raw, column) in enumerate(zip(header, columns, strict=True), start=1):
        name = "" if raw is None else str(raw).strip()
        if not name:
            if column.null_count < len(column) and any(v not in (None, "") for v in column.to_pylist()):
                raise SourceError(f"column {position} has values but no header")
            continue
        if name in seen:
            raise SourceError(f"duplicated header '{name}' (columns {seen[name]} and {position})")
        seen[name] = position
        names.append(name)
        kept.append(column)
    return pa.Table.from_arrays(kept, names=names)


def _csv(blob: bytes, where: str) -> pa.Table:
    text = decode_text(blob, where)
    header = next(csv.reader(io.StringIO(text)), None)
    if not header:
        raise SourceError("the file is empty: no header row")
    # The header is read as the first row of positional columns, so that a header given twice is seen
    # here rather than passed on, and every column stays text (codes keep their leading zeros).
    positional = [f"f{i}" for i in range(len(header))]
    table = pacsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pacsv.ReadOptions(autogenerate_column_names=True),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),  # an address over two lines, quoted
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(positional, pa.string()),
                                             strings_can_be_null=True),
    )
    # a header cell such as "NA" reads as null to the CSV reader: its text is the csv module's
    names = [column[0].as_py() or (header[i] if i < len(header) else None) for i, column in enumerate(table.columns)]
    return named_columns(names, [column.combine_chunks()[1:] for column in table.columns])


def _xlsx(blob: bytes, limits: XlsxLimits) -> pa.Table:
    header, columns = read_first_sheet(blob, limits)
    return named_columns(header, [pa.array(c, pa.string()) for c in columns])


def read_file(blob: bytes, path: str, limits: XlsxLimits | None = None) -> pa.Table:
    """The file as one table with unique column names; SourceError names the file and the fault."""
    suffix = path.rsplit(".", 1)[-1].lower()
    try:
        if suffix == "parquet":
            table = pq.read_table(io.BytesIO(blob))
        elif suffix in ("jsonl", "json"):
            table = pajson.read_json(io.BytesIO(blob))
        elif suffix == "xlsx":
            return _xlsx(blob, limits or XlsxLimits())
        else:
            return _csv(blob, path)
        return named_columns(table.column_names, [c.combine_chunks() for c in table.columns])
    except SourceError as exc:
        message = str(exc)
        raise SourceError(message if message.startswith("cannot read") else f"cannot read {path}: {message}") from exc
    except PARSE_ERRORS as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc


def group_of(contract: Contract) -> list[Contract]:
    """The contracts of the dataset's file group (itself alone when it has none)."""
    group = contract.source.get("file_group")
    if not group:
        return [contract]
    schemas_dir = Path(contract.path).parent if contract.path else None
    return [c for c in load_contracts(schemas_dir).values() if c.source.get("file_group") == group]


def check_group_header(columns: list[str], group: list[Contract], path: str) -> None:
    """A header that two columns map to for one dataset (say 联单编号 and manifest_no) fails the file."""
    for contract in group:
        by_zh = {f.name_zh: f.name for f in contract.fields}
        seen: dict[str, str] = {}
        for column in columns:
            name = by_zh.get(column, column)
            if name in seen:
                raise SourceError(f"cannot read {path}: columns '{seen[name]}' and '{column}' are both "
                                  f"{contract.id}.{name}")
            seen[name] = column


def for_contract(table: pa.Table, contract: Contract, group: list[Contract] | None = None) -> pa.Table:
    """Rename Chinese headers to field names; in a file group keep only this dataset's columns
    (and columns no dataset of the group knows, as drift), without exact repeats."""
    by_zh = {f.name_zh: f.name for f in contract.fields}
    table = table.rename_columns([by_zh.get(c, c) for c in table.column_names])
    if not contract.source.get("file_group"):
        return table
    group = group if group is not None else group_of(contract)
    others = {name for c in group if c.id != contract.id for f in c.fields for name in (f.name, f.name_zh)}
    keep = [c for c in table.column_names if c in contract.field_names or c not in others]
    return pl.from_arrow(table.select(keep)).unique(maintain_order=True).to_arrow()


@dataclass
class FileSource:
    path: str
    xlsx_limits: XlsxLimits = field(default_factory=XlsxLimits)
    _content: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def blob(self) -> bytes:
        """The file's bytes, read once: identity and parsing use the same content."""
        if self._content is None:
            fs, path = (pafs.FileSystem.from_uri(self.path) if "://" in self.path
                        else (pafs.LocalFileSystem(), self.path))
            info = fs.get_file_info(path)
            if info.type != pafs.FileType.File:
                raise SourceError(f"cannot read {self.path}: " + (
                    "it is a folder, not a file" if info.type == pafs.FileType.Directory else "no such file"))
            try:
                with fs.open_input_stream(path) as fh:
                    self._content = fh.read()
            except OSError as exc:
                raise SourceError(f"cannot read {self.path}: {exc}") from exc
        return self._content

    @property
    def identity(self) -> str:
        """The path and the content hash: the same content dropped again is recognised."""
        return f"{self.path}#sha256:{hashlib.sha256(self.blob()).hexdigest()[:32]}"

    def parse(self, group: list[Contract]) -> pa.Table:
        """The whole file, parsed once for every dataset of its group; file-level faults raise here."""
        table = read_file(self.blob(), self.path, self.xlsx_limits)
        check_group_header(table.column_names, group, self.path)
        return table

    def read_group(self, contracts: list[Contract], watermarks: dict[str, str | None]) -> dict[str, Extract]:
        """One extract per dataset, all from one parse of the file."""
        group = group_of(contracts[0])
        table = self.parse(group)
        extracts = {}
        for contract in contracts:
            own = for_contract(table, contract, group)
            wm = max_watermark(own, contract.source.get("watermark_field"), watermarks.get(contract.id))
            extracts[contract.id] = Extract(own, wm, pages=1)
        return extracts

    def read(self, contract: Contract, watermark: str | None) -> Extract:
        return self.read_group([contract], {contract.id: watermark})[contract.id]
