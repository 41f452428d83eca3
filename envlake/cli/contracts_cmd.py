"""envlake contracts: list and check the data contracts in schemas/."""

from __future__ import annotations

from typing import Annotated

import typer

from envlake.cli.output import console, fail, print_json, print_table
from envlake.kernel.contracts import SHARING_CLASS_ZH, ContractError, load_contracts

app = typer.Typer(help="List and check the data contracts (schemas/*.yaml).", no_args_is_help=True)


@app.command("check")
def check() -> None:
    """Check every contract against the contract schema; exit 1 naming the file and field if one is broken."""
    try:
        contracts = load_contracts()
    except ContractError as exc:
        fail(str(exc))
    console.print(f"{len(contracts)} contracts are valid: {', '.join(contracts)}")


@app.command("list")
def list_contracts(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List datasets with their owner, update cycle and classification."""
    try:
        contracts = load_contracts()
    except ContractError as exc:
        fail(str(exc))
    rows = []
    for c in contracts.values():
        classes = sorted({SHARING_CLASS_ZH[f.sharing_class] for f in c.fields})
        levels = max(f.security_level for f in c.fields)
        rows.append({"id": c.id, "name_zh": c.name_zh, "owner": c.owner_department["name_zh"],
                     "protocol": c.source["protocol"], "update_cycle": c.update_cycle["name_zh"],
                     "fields": len(c.fields), "highest_security_level": levels, "sharing_classes": classes})
    if as_json:
        print_json(rows)
        return
    columns = ["id", "名称", "责任部门", "来源", "更新周期", "字段", "最高级别", "共享类型"]
    print_table("数据目录 / data contracts", columns,
                [[r["id"], r["name_zh"], r["owner"], r["protocol"], r["update_cycle"], r["fields"],
                  r["highest_security_level"], "、".join(r["sharing_classes"])] for r in rows])
