"""The lake's own records under ``_meta/``: each record's schema and the catalog view readers see it as.

Writers (the load log, the quality results, the publish log, the access audit) take their schema from
here; the publish turns ``META_VIEWS`` into ``lake_meta.<view>`` views, and Superset's city catalog reads
the same list.
"""

from __future__ import annotations

import pyarrow as pa

from envlake.kernel.load_log import LOAD_LOG_SCHEMA

AUDIT_SCHEMA = pa.schema([
    ("request_id", pa.string()), ("requested_at", pa.timestamp("us", "UTC")), ("department", pa.string()),
    ("channel", pa.string()), ("action", pa.string()), ("dataset", pa.string()), ("query", pa.string()),
    ("outcome", pa.string()), ("reason", pa.string()), ("rows", pa.int64()), ("clear_columns", pa.string()),
    ("duration_ms", pa.float64()),
    # since issue 17
    ("query_sha256", pa.string()), ("query_chars", pa.int64()), ("query_tail", pa.string()),
    ("columns_read", pa.string()), ("masked_columns", pa.string()), ("response_bytes", pa.int64()),
])

RESULT_SCHEMA = pa.schema([
    ("kind", pa.string()),          # landed (a raw batch) or mart (before a publish)
    ("dataset", pa.string()),
    ("run", pa.string()),           # the load run or the publish version
    ("batch", pa.string()),         # the batch's file(s) or the mart's rows checked
    ("expectation", pa.string()),
    ("column", pa.string()),
    ("success", pa.bool_()),
    ("observed_value", pa.string()),
    ("unexpected_count", pa.int64()),
    ("element_count", pa.int64()),
    ("checked_at", pa.timestamp("us", "UTC")),
])

PUBLISH_LOG_SCHEMA = pa.schema([
    ("version", pa.string()), ("status", pa.string()), ("published_at", pa.timestamp("us", "UTC")),
    ("models", pa.string()), ("failed", pa.string()), ("message", pa.string()),
])

# each record's view in the catalog (``lake_meta.<view>``) and its folder under ``_meta/``
META_VIEWS = {"quality_results": ("quality", "results"), "freshness": ("freshness",), "alerts": ("alerts",),
              "publish_log": ("publish_log",), "load_log": ("load_log",), "audit": ("audit",)}

# Records first written after a publish (the access audit): an empty file of their schema lets the view,
# created now, see the files that come later.
ANCHORED = {"audit": "date=1970-01-01"}

SCHEMAS = {"quality_results": RESULT_SCHEMA, "publish_log": PUBLISH_LOG_SCHEMA, "load_log": LOAD_LOG_SCHEMA,
           "audit": AUDIT_SCHEMA}
