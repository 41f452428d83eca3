"""What one department may see of each shared dataset: its views.

- Every shared dataset is visible to every department (无条件共享 columns in the clear).
- A conditional column (有条件共享) is masked, as in shared/, unless a grant in force covers it: then it is
  read in the clear from curated/.
- A column withheld from shared/, classified 不予共享 or L4, is not in the view at all.

A view with no column in the clear by grant reads the shared/ files themselves, so that the common case
cannot show more than shared/ holds, whatever this module does.
"""

from __future__ import annotations

from dataclasses import dataclass

from envlake.access.masking import mask_sql, quote
from envlake.access.published_datasets import Dataset, Published
from envlake.access.store import Grant


@dataclass(frozen=True)
class View:
    dataset: Dataset
    clear: frozenset[str]  # conditional columns this department sees in the clear
    columns: tuple[str, ...]  # what the view shows, in order

    @property
    def masked(self) -> list[str]:
        return [c for c in self.dataset.grantable if c not in self.clear]

    def access(self, column: str) -> str:
        col = self.dataset.column(column)
        if col is None or not col.masked:
            return "clear"
        return "clear (granted)" if column in self.clear else "masked"

    @property
    def files(self) -> tuple[str, ...]:
        """The Parquet files it reads: curated/ when a grant shows columns in the clear, shared/ otherwise. The
        session may open these files and no other (``envlake.access.engine``)."""
        return self.dataset.curated_files if self.clear else self.dataset.shared_files

    def select_sql(self) -> str:
        """The view's query over its Parquet files (lake paths or ``s3://`` URIs)."""
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in self.files)
        parts = []
        for name in self.columns:
            col = self.dataset.column(name)
            if self.clear and col is not None and col.masked and name not in self.clear:
                parts.append(f"{mask_sql(name, col.type, col.mask)} as {quote(name)}")
            else:
                parts.append(quote(name))
        return (f"select {', '.join(parts)} from read_parquet([{listed}], hive_partitioning = false, "
                "union_by_name = true)")


def clear_columns(dataset: Dataset, grants: list[Grant]) -> frozenset[str]:
    granted: set[str] = set()
    for g in grants:
        if g.dataset == dataset.name:
            granted.update(dataset.grantable if "*" in g.columns else g.columns)
    return frozenset(granted & set(dataset.grantable))


def views(published: Published, grants: list[Grant]) -> dict[str, View]:
    """The department's views (grants: those in force for it now)."""
    out = {}
    for name, dataset in published.datasets.items():
        shown = tuple(c.name for c in dataset.columns if not c.never_shared)
        out[name] = View(dataset, clear_columns(dataset, grants), shown)
    return out
