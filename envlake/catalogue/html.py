"""The catalogue as a static site in Chinese: an index with a search box, one page per dataset."""

from __future__ import annotations

from html import escape
from typing import Any

SHARING_ZH = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
STATE_ZH = {"fresh": "正常", "late": "滞后", "stale": "过期", "never": "从未入湖"}
SHARED_ZH = {"clear": "明文", "masked": "脱敏", "withheld": "不进入共享区"}

STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei",sans-serif;margin:2rem;color:#1f2933}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d9e2ec;padding:.4rem .6rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f0f4f8}.state{padding:.1rem .5rem;border-radius:.8rem;font-size:.8rem;white-space:nowrap}
.fresh{background:#e3f9e5;color:#1f7a30}.late{background:#fff3c4;color:#8d6a00}
.stale,.never{background:#ffe3e3;color:#a61b1b}.banner{background:#ffe3e3;padding:.8rem;border-radius:.4rem}
input[type=search]{width:100%;padding:.6rem;font-size:1rem;margin:1rem 0}.muted{color:#7b8794}
"""

SEARCH = """
<script>
const box = document.getElementById('search');
box.addEventListener('input', () => {
  const q = box.value.trim().toLowerCase();
  let shown = 0;
  document.querySelectorAll('tr.dataset').forEach(row => {
    const hit = !q || row.dataset.text.includes(q);
    row.style.display = hit ? '' : 'none';
    shown += hit ? 1 : 0;
  });
  document.getElementById('count').textContent = shown;
});
</script>
"""


def _page(title: str, body: str, script: str = "") -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}{script}</body></html>")


def _state(state: str) -> str:
    return f'<span class="state {escape(state)}" data-state="{escape(state)}">{STATE_ZH.get(state, state)}</span>'


def _banner(doc: dict[str, Any]) -> str:
    attempt = doc.get("last_publish_attempt") or {}
    if attempt.get("status") != "blocked":
        return ""
    return (f'<p class="banner" id="publish-blocked">最近一次发布被拦截（{escape(attempt["at"][:19])}），'
            f"共享区保持上一版本：{escape(attempt.get('message') or '')}</p>")


def _row(d: dict[str, Any]) -> str:
    text = " ".join(str(d.get(k) or "") for k in ("id", "name_zh", "description", "owner_department")).lower()
    rows = "" if d.get("rows") is None else f"{d['rows']:,}"
    return (f'<tr class="dataset" data-text="{escape(text)}"><td><a href="datasets/{escape(d["id"])}.html">'
            f'{escape(d["name_zh"])}</a><div class="muted">{escape(d["id"])}</div></td>'
            f'<td>{escape(d.get("owner_department") or "")}</td>'
            f'<td>{SHARING_ZH.get(d["sharing_class"], d["sharing_class"])}</td><td>{escape(d["security_level"])}</td>'
            f'<td>{escape(d.get("update_cycle_zh") or "")}</td><td>{escape((d.get("last_update") or "")[:16])}</td>'
            f"<td>{_state(d['freshness'])}</td><td>{rows}</td></tr>")


HEAD = ("<tr><th>数据集</th><th>提供部门</th><th>共享类型</th><th>安全级别</th><th>更新周期</th>"
        "<th>最近更新</th><th>更新状态</th><th>记录数</th></tr>")


def render_index(doc: dict[str, Any]) -> str:
    total = len(doc["shared"]) + len(doc["sources"])
    body = (f"<h1>杭州市生态环境公共数据目录</h1>"
            f'<p class="muted">生成时间 {escape(doc["generated_at"][:19])}（UTC），发布版本 '
            f'{escape(doc.get("published_version") or "无")}，共 <span id="count">{total}</span> 个数据集</p>'
            f"{_banner(doc)}"
            '<input type="search" id="search" placeholder="搜索数据集名称、编码、描述或部门">'
            f'<h2>共享数据集</h2><table id="shared">{HEAD}{"".join(_row(d) for d in doc["shared"])}</table>'
            f'<h2>部门源数据集</h2><table id="sources">{HEAD}{"".join(_row(d) for d in doc["sources"])}</table>')
    return _page("杭州市生态环境公共数据目录", body, SEARCH)


def _columns(d: dict[str, Any]) -> str:
    head = ("<tr><th>字段</th><th>说明</th><th>类型</th><th>安全级别</th><th>共享类型</th><th>个人信息</th>"
            "<th>共享区</th></tr>")
    rows = []
    for c in d["columns"]:
        name = c.get("name") or c.get("column")
        rows.append(f"<tr><td>{escape(name)}</td><td>{escape(c.get('name_zh') or c.get('description') or '')}</td>"
                    f"<td>{escape(c.get('type') or '')}</td><td>{escape(c.get('security_level') or '未分类')}</td>"
                    f"<td>{SHARING_ZH.get(c.get('sharing_class'), '未分类')}</td>"
                    f"<td>{'是' if c.get('pii') else '否'}</td>"
                    f"<td>{SHARED_ZH.get(c.get('shared', ''), '—')}</td></tr>")
    return f'<table id="columns">{head}{"".join(rows)}</table>'


def _quality(d: dict[str, Any]) -> str:
    q = d["quality"]
    if not q["results"]:
        return '<p class="muted">暂无质量校验结果</p>'
    head = "<tr><th>校验规则</th><th>结果</th><th>异常数</th><th>观测值</th></tr>"
    rows = "".join(f"<tr><td>{escape(r['expectation'])}</td><td>{'通过' if r['success'] else '未通过'}</td>"
                   f"<td>{r.get('unexpected_count') if r.get('unexpected_count') is not None else ''}</td>"
                   f"<td>{escape(str(r.get('observed_value'))[:80])}</td></tr>" for r in q["results"])
    return (f'<p>通过率 {q["pass_rate"]:.1%}（{q["passed"]}/{q["expectations"]}）</p>'
            f'<table id="quality">{head}{rows}</table>')


def render_dataset(doc: dict[str, Any], d: dict[str, Any]) -> str:
    kind = "共享数据集" if d["kind"] == "shared" else "部门源数据集"
    facts = [("数据集编码", d["id"]), ("类别", kind), ("提供部门", d.get("owner_department") or ""),
             ("共享类型", SHARING_ZH.get(d["sharing_class"], "")), ("安全级别", d["security_level"]),
             ("更新周期", d.get("update_cycle_zh") or ""), ("最近更新", (d.get("last_update") or "")[:19]),
             ("记录数", "" if d.get("rows") is None else f"{d['rows']:,}")]
    rows = "".join(f"<tr><th>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    stale = d.get("stale_inputs") or []
    complete = d.get("completeness")
    completeness = "" if not complete else (
        f'<p id="completeness">数据完整性：完整监测点日占比 {complete["complete_share"]:.1%}'
        f'（要求≥{complete["required_share"]:.0%}，日均值需≥20个有效小时值）'
        + ('<span class="state stale">不完整</span>' if complete["incomplete"] else "") + "</p>")
    lineage = ""
    if d["kind"] == "shared":
        lineage = ("<h2>上游血缘</h2><p>源数据集：" + "、".join(
            f'<a href="{escape(i)}.html">{escape(i)}</a>' for i in d["inputs"]) + "</p><p class=\"muted\">"
            + " ← ".join(escape(n) for n in d["lineage"]) + "</p>")
    body = (f'<p><a href="../index.html">← 返回目录</a></p><h1 id="name">{escape(d["name_zh"])}</h1>'
            f"<p>{escape(d.get('description') or '')}</p>"
            f'<p>更新状态：{_state(d["freshness"])}'
            + (f"（过期的上游：{escape('、'.join(stale))}）" if stale else "") + "</p>" + completeness +
            f"<table>{rows}</table><h2>字段与分类</h2>{_columns(d)}{lineage}<h2>最新质量校验</h2>{_quality(d)}")
    return _page(f"{d['name_zh']} — 公共数据目录", body)


def render_site(doc: dict[str, Any]) -> dict[str, str]:
    """{relative path: HTML} for the index and each dataset."""
    pages = {"index.html": render_index(doc)}
    for d in doc["shared"] + doc["sources"]:
        pages[f"datasets/{d['id']}.html"] = render_dataset(doc, d)
    return pages
