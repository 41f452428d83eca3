"""File connector: a file dropped by a department (CSV in UTF-8 or GB18030, XLSX, JSON lines, Parquet).

Text formats are read with every column as text, so codes keep their leading zeros; the writer
casts to the contract's types. Headers may be the fields' names or their Chinese names (``name_zh``).
Datasets of one ``file_group`` come from the same file: each takes the columns of its own fields,
and exact repeats (a manifest repeated on each of its item rows) are dropped. A file whose content
was landed before for a dataset is refused by ``already_landed`` (content hash in the source).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from connectors.contracts import Contract, load_contracts
from connectors.sources import Extract, SourceError, max_watermark

ENCODINGS = ("utf-8-sig", "gb18030")


def decode_text(blob: bytes, where: str) -> str:
    for encoding in ENCODINGS:
        try:
            return blob.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SourceError(f"cannot read {where}: neither UTF-8 nor GB18030 text")


def _csv(blob: bytes, where: str) -> pa.Table:
    text = decode_text(blob, where)
    header = next(csv.reader([text.split("\n", 1)[0]]))
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True)
    return pacsv.read_csv(io.BytesIO(text.encode("utf-8")), convert_options=options)


def _xlsx(blob: bytes) -> pa.Table:
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(blob), read_only=True, data_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(h) for h in next(rows)]
    columns: list[list[str | None]] = [[] for _ in header]
    for row in rows:  # a department's daily export: thousands of rows, not millions
        for column, value in zip(columns, row, strict=False):
            column.append(None if value is None else (value.strftime("%Y-%m-%d %H:%M:%S")
                                                      if hasattr(value, "strftime") else str(value)))
    return pa.table({h: pa.array(c, pa.string()) for h, c in zip(header, columns, strict=True)})


def read_file(blob: bytes, path: str) -> pa.Table:
    try:
        if path.endswith(".parquet"):
            return pq.read_table(io.BytesIO(blob))
        if path.endswith((".jsonl", ".json")):
            return pajson.read_json(io.BytesIO(blob))
        if path.endswith(".xlsx"):
            return _xlsx(blob)
        return _csv(blob, path)
    except (pa.ArrowInvalid, StopIteration, KeyError, ValueError, OSError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc


def for_contract(table: pa.Table, contract: Contract) -> pa.Table:
    """Rename Chinese headers to field names; in a file group keep only this dataset's columns
    (and columns no dataset of the group knows, as drift), without exact repeats."""
    by_zh = {f.name_zh: f.name for f in contract.fields}
    table = table.rename_columns([by_zh.get(c, c) for c in table.column_names])
    group = contract.source.get("file_group")
    if not group:
        return table
    others = {name for c in load_contracts().values() if c.source.get("file_group") == group and c.id != contract.id
              for f in c.fields for name in (f.name, f.name_zh)}
    keep = [c for c in table.column_names if c in contract.field_names or c not in others]
    return pl.from_arrow(table.select(keep)).unique(maintain_order=True).to_arrow()


@dataclass
class FileSource:
    path: str

    def _blob(self) -> bytes:
        fs, path = pafs.FileSystem.from_uri(self.path) if "://" in self.path else (pafs.LocalFileSystem(), self.path)
        if fs.get_file_info(path).type != pafs.FileType.File:
            raise SourceError(f"no file at {self.path}")
        with fs.open_input_stream(path) as fh:
            return fh.read()

    @property
    def identity(self) -> str:
        """The path and the content hash: the same content dropped again is recognised."""
        return f"{self.path}#sha256:{hashlib.sha256(self._blob()).hexdigest()[:32]}"

    def read(self, contract: Contract, watermark: str | None) -> Extract:
        table = for_contract(read_file(self._blob(), self.path), contract)
        return Extract(table, max_watermark(table, contract.source.get("watermark_field"), watermark), pages=1)
