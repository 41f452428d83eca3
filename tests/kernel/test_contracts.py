import shutil
from pathlib import Path

import pytest
import yaml

from envlake.kernel.contracts import ContractError, load_contract, load_contracts
from envlake.kernel.settings import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas"


def test_all_contracts_load_with_required_datasets() -> None:
    contracts = load_contracts(SCHEMAS)
    assert {"permit", "permit_outlet_limit", "credit_rating", "district", "pollutant_code"} <= set(contracts)
    permit = contracts["permit"]
    assert permit.update_cycle == {"cycle": "daily", "name_zh": "每日", "grace_hours": 6}
    assert permit.field("contact_phone").pii and permit.field("contact_phone").sharing_class == "conditional"
    assert permit.field("credit_code").rules == {"checksum": "uscc"}
    assert all(f.name_zh for c in contracts.values() for f in c.fields)


def broken(tmp_path: Path, dataset: str, mutate) -> Path:
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    path = folder / f"{dataset}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["fields"][1].pop("name_zh"), "field 'credit_code': 'name_zh' is a required property"),
    (lambda d: d["fields"][2].update(type="text"), "field 'enterprise_name' (type): 'text' is not one of"),
    (lambda d: d["fields"][3].update(security_level="L5"), "field 'district_code' (security_level)"),
    (lambda d: d["fields"][0].update(sharing_class="public"), "field 'permit_no' (sharing_class)"),
    (lambda d: d["update_cycle"].update(name_zh="每周"), "'update_cycle.name_zh': '每周' does not match cycle 'daily'"),
    (lambda d: d.update(primary_key=["permit_number"]), "'primary_key': names 'permit_number'"),
    (lambda d: d["fields"][16].update(sharing_class="unconditional"), "field 'contact_phone': personal data"),
    (lambda d: d.pop("owner_department"), "'owner_department' is a required property"),
])
def test_broken_contract_names_file_and_field(tmp_path: Path, mutate, expected: str) -> None:
    folder = broken(tmp_path, "permit", mutate)
    with pytest.raises(ContractError) as err:
        load_contract("permit", folder)
    assert str(err.value).startswith(str(folder / "permit.yaml"))
    assert expected in str(err.value)


def test_unreadable_yaml_and_unknown_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    (folder / "permit.yaml").write_text("id: permit\nfields: [unclosed", encoding="utf-8")
    with pytest.raises(ContractError, match=r"permit\.yaml: not valid YAML"):
        load_contract("permit", folder)
    with pytest.raises(ContractError, match="no contract for dataset 'nosuch'"):
        load_contract("nosuch", folder)
