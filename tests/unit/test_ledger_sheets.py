"""The ledger as a secretary hands it in, read back with openpyxl: columns as wide as their
cells (Chinese counting double, capped), an autofilter on each heading row and the heading
frozen, totals rows, the audit log in words (every action code has its name), notices with
where they went, the care register with each household's check-ins; in Chinese and English."""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select, update

from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import audit, care, reports
from bot.services.notices import sending
from bot.services.reports.sheets.labels import ACTIONS, DETAILS
from bot.services.reports.xlsx import WIDTH_MAX, column_widths, text_width
from bot.services.scope import Scope, scope_of
from models import Building, CareCheck, Grid, Order, Resident, Volunteer
from tests.factories import LEDGER_SHEETS, STAFF, VOLUNTEERS_1
from tests.unit.test_orders import _order, _resident

ROOT = Path(__file__).resolve().parents[2]
ZH, EN = gettext_for("zh_CN"), gettext_for("en")


def _codes(node: ast.expr, where: str) -> set[str]:
    """The action codes an expression can be: a literal, either side of `a if c else b`, or
    `"x." + ...` of those; anything else fails (write the code as a literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _codes(node.body, where) | _codes(node.orelse, where)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return {a + b for a in _codes(node.left, where) for b in _codes(node.right, where)}
    raise AssertionError(f"{where}: an audit action code that is not a literal")


def _audit_calls() -> Iterator[tuple[ast.Call, str]]:
    """Every `audit.record(...)` call in the code, and where."""
    for folder in ("bot", "handlers", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "audit"
                ):
                    yield node, f"{path.relative_to(ROOT)}:{node.lineno}"


def test_every_audit_action_code_has_a_chinese_name() -> None:
    found: dict[str, str] = {}
    for call, where in _audit_calls():
        arg = next((k.value for k in call.keywords if k.arg == "action"), None)
        found.update((code, where) for code in _codes(arg or call.args[3], where))
    assert len(found) >= 20, found
    unnamed = sorted(f"{code} ({where})" for code, where in found.items() if code not in ACTIONS)
    assert unnamed == [], "add to ACTIONS in reports/sheets/labels.py: " + ", ".join(unnamed)
    for code in found:
        assert ZH(ACTIONS[code]) != ACTIONS[code], f"{code}: no Chinese for {ACTIONS[code]}"


def test_every_audit_detail_has_a_chinese_label() -> None:
    """The details an audit row is written with (the keyword arguments of `audit.record`) are
    each shown as "label: value" in the ledger, never under their code name."""
    keys = {
        (k.arg, where)
        for call, where in _audit_calls()
        for k in call.keywords
        if k.arg not in (None, "action", "session", "clock", "actor", "target")
    }
    assert len(keys) >= 15
    unlabelled = sorted(f"{k} ({where})" for k, where in keys if k not in DETAILS)
    assert unlabelled == [], "add to DETAILS in reports/sheets/labels.py: " + ", ".join(unlabelled)
    assert all(ZH(DETAILS[k]) != DETAILS[k] or k == "telegram_id" for k, _ in keys)


def test_text_width_counts_chinese_double() -> None:
    assert text_width("abc") == 3
    assert text_width("幸福小区") == 8
    assert text_width("2栋 3-502") == 1 + 2 + 6
    assert text_width("第一行\nlonger line") == 11


async def _resident_id(rt: Runtime) -> int:
    async with rt.db.read() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == 1001))
    assert rid is not None
    return rid


async def _hand_in_scenario(rt: Runtime) -> dict[str, Any]:
    """Three orders (¥35.50, ¥12.00, none spent; one with a very long request), 周阿姨 marked
    elderly living alone with 赵书记 responsible, her check-ins of three days (all right, asked
    to be called, no answer), and a notice to her building."""
    await _resident(rt)
    ids = [await _order(rt) for _ in range(3)]
    rid = await _resident_id(rt)
    today = rt.today()
    async with rt.db.session() as s:
        for oid, fen in zip(ids, (3550, 1200, None), strict=True):
            await s.execute(update(Order).where(Order.id == oid).values(amount_spent_fen=fen))
        await s.execute(update(Order).where(Order.id == ids[2]).values(description="药" * 80))
        await care.toggle_flag(rt, s, STAFF, rid, "elderly_alone")
        await care.assign(rt, s, STAFF, rid, "me")
        for back, answer in ((2, None), (1, "call"), (0, "fine")):
            day = today - timedelta(days=back)
            s.add(CareCheck(resident_id=rid, day=day, asked_at=rt.clock.now(), answer=answer))
        building = await s.scalar(select(Building).where(Building.code == "xf2"))
        assert building is not None
        await sending.create(rt, s, STAFF, "building", f"b{building.id}", "明天上午核酸检测")
    return {"orders": ids, "resident": rid, "first": today - timedelta(days=2), "today": today}


async def _workbook(
    rt: Runtime, first: Any, last: Any, language: str = "zh_CN", scope: Scope | None = None
) -> Any:
    async with rt.db.read() as s:
        scope = scope or await scope_of(s, STAFF)
        assert scope is not None
        sheets = await reports.ledger(s, scope, first, last, rt.timezone, gettext_for(language))
    return sheets, load_workbook(io.BytesIO(reports.workbook_bytes(sheets)))


def _rows(ws: Worksheet) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _col(ws: Worksheet, heading: str) -> str:
    head = [c.value for c in ws[1]]
    return str(ws.cell(1, head.index(heading) + 1).column_letter)


async def test_the_ledger_is_laid_out_to_hand_in(rt: Runtime) -> None:
    got = await _hand_in_scenario(rt)
    sheets, wb = await _workbook(rt, got["first"], got["today"])
    assert wb.sheetnames == LEDGER_SHEETS
    for ws in wb.worksheets:  # every sheet: the heading frozen and filtered
        assert ws.freeze_panes == "A2", ws.title
        last = ws.cell(1, ws.max_column).column_letter
        assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert ws.auto_filter.ref.split(":")[1].startswith(last), ws.title

    ws = wb["订单"]
    # Three orders, then the totals: how many, and the yuan spent (under the filter's range).
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}4"
    assert ws.max_row == 5
    spent = _col(ws, "花费(元)")
    assert ws["A5"].value == "合计：3" and ws[f"{spent}5"].value == 47.5
    assert ws["A5"].font.b and ws[f"{spent}5"].number_format == "0.00"
    assert [ws[f"A{r}"].value for r in (2, 3, 4)] == got["orders"]
    # Widths from the cells: an 11-digit phone (13), 幸福小区 (8 + 2), a heading wider than
    # its cells with room for the filter button (单元: 4 + 4), a long request capped.
    widths = {h: ws.column_dimensions[_col(ws, h)].width for h in ("联系电话", "小区", "单元")}
    assert widths == {"联系电话": 13, "小区": 10, "单元": 8}
    assert ws.column_dimensions[_col(ws, "需求")].width == WIDTH_MAX
    assert column_widths(sheets[0])[0] == len("订单编号") * 2 + 4

    vols = wb["志愿者"]
    assert vols.cell(vols.max_row, 1).value == f"合计：{vols.max_row - 2}"

    # The notice: where it went by name; its totals.
    notices = _rows(wb["通知"])
    head = notices[0]
    assert [r[head.index("发往")] for r in notices[1:-1]] == ["幸福小区 2栋"]
    assert notices[-1][0] == "合计：1" and notices[-1][head.index("接收人数")] == 1
    receipts = _rows(wb["通知回执"])
    assert receipts[1][receipts[0].index("楼栋")] == "幸福小区 2栋"

    # The care register: her flags, who is responsible, her three days, one column each.
    care_rows = _rows(wb["关爱名单"])
    head, zhou, total = care_rows[0], care_rows[1], care_rows[-1]
    assert len(care_rows) == 3
    first = got["first"]
    days = [(first + timedelta(days=k)).strftime("%m-%d") for k in range(3)]
    assert head[-3:] == days
    row = dict(zip(head, zhou, strict=True))
    assert (row["姓名"], row["楼栋"], row["单元"], row["房号"]) == (
        "周阿姨",
        "幸福小区 2栋",
        "3",
        "502",
    )
    assert row["关爱类别"] == ZH(care.FLAGS[care.CareFlag.ELDERLY_ALONE])
    assert row["包保责任人"] == "赵书记"
    counts = ("问候次数", "一切都好", "需要帮助", "请求来电", "未回复")
    assert [row[c] for c in counts] == [3, 1, 0, 1, 1]
    assert [row[d] for d in days] == ["未回复", "请来电", "都好"]
    assert total[0] == "合计：1" and [total[head.index(c)] for c in counts] == [3, 1, 0, 1, 1]

    # The audit log in words: 赵书记 marked 周阿姨, named herself, sent the notice.
    audit = _rows(wb["操作记录"])
    assert audit[0] == ["时间", "操作人", "Telegram ID", "操作", "对象", "详情"]
    said = [(r[1], r[3], r[4], r[5]) for r in audit[1:]]
    assert said[:2] == [
        ("赵书记", "关爱名单：添加标记", "周阿姨", "标记：独居老人；现有标记：独居老人"),
        ("赵书记", "关爱名单：指定包保责任人", "周阿姨", "包保责任人：赵书记；原为：无"),
    ]
    assert said[2][1:3] == ("发送通知", "楼栋：幸福小区 2栋")
    assert said[2][3].startswith("通知编号：") and "内容：明天上午核酸检测" in said[2][3]
    for cell in (c for r in audit[1:] for c in r[3:]):
        assert "resident:" not in cell and "{" not in cell and "care." not in cell, cell

    # The leader of the other grid gets none of it: not her, her check-ins or the notice.
    async with rt.db.read() as s:
        grids = list(await s.scalars(select(Grid.id).order_by(Grid.id)))
        other = await reports.ledger(
            s, Scope(grids=frozenset({grids[1]})), got["first"], got["today"], rt.timezone
        )
    assert {
        sh.title: len(sh.rows) for sh in other if sh.title in ("通知", "关爱名单", "操作记录")
    } == {
        "通知": 0,
        "关爱名单": 0,
        "操作记录": 0,
    }


async def test_the_ledger_in_english(rt: Runtime) -> None:
    got = await _hand_in_scenario(rt)
    _sheets, wb = await _workbook(rt, got["first"], got["today"], "en")
    assert wb.sheetnames == [
        "Orders",
        "Order events",
        "Volunteers",
        "Notices",
        "Notice receipts",
        "Care register",
        "Building status",
        "Audit log",
    ]
    orders = _rows(wb["Orders"])
    assert orders[-1][0] == "Total: 3"
    assert orders[-1][orders[0].index("Spent (yuan)")] == 47.5
    care_rows = _rows(wb["Care register"])
    assert care_rows[1][care_rows[0].index("Why on the list")] == "elderly, living alone"
    assert care_rows[1][-3:] == ["no answer", "call", "fine"]
    audit = _rows(wb["Audit log"])
    assert [r[3] for r in audit[1:3]] == [
        "Care list: flag set",
        "Care list: responsible person named",
    ]
    assert audit[1][5] == "Flag: elderly, living alone; Flags now: elderly, living alone"
    assert audit[3][4] == "Building: 幸福小区 2栋"
    notices = _rows(wb["Notices"])
    assert notices[1][notices[0].index("Sent to")] == "幸福小区 2栋"
    assert reports.file_name(got["today"], got["today"], "xlsx", EN).startswith("Ledger_")


async def test_audit_rows_of_every_kind_read_as_words(rt: Runtime) -> None:
    """Rows as the services write them (a roster change, a suspension from the command line,
    a group moved, a staff member removed, a household forgotten, an export) read as words."""
    await _resident(rt)
    rid = await _resident_id(rt)
    async with rt.db.session() as s:
        g1, g2 = list(await s.scalars(select(Grid.id).order_by(Grid.id)))[:2]
        vid = await s.scalar(select(Volunteer.id).where(Volunteer.telegram_id == VOLUNTEERS_1[0]))
        starts = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
        rows: list[tuple[int | None, str, str, dict[str, Any]]] = [
            (
                STAFF,
                "roster.on",
                f"grid:{g1}",
                {"volunteer_id": vid, "starts_at": starts.isoformat()},
            ),
            (
                None,
                "volunteer.suspended",
                f"volunteer:{vid}",
                {
                    "name": "王刚",
                    "grid_id": g1,
                    "reason": "失联",
                    "shifts_removed": 2,
                    "via": "cli",
                },
            ),
            (STAFF, "group.rebound", f"grid:{g2}", {"from_grid_id": g1, "to_grid_id": g2}),
            (STAFF, "staff.removed", "staff:424242", {"role": "grid_leader", "name": "钱网格长"}),
            (STAFF, "resident.forget", f"residents:{rid}", {"orders": 1}),
            (None, "report.exported", "all", {"days": "2026-11-01..2026-11-23"}),
        ]
        for actor, action, target, details in rows:
            await audit.record(s, rt.clock, actor, action, target, **details)
    # An admin's ledger: the command line's rows too.
    _sheets, wb = await _workbook(rt, rt.today(), rt.today(), scope=Scope(admin=True))
    said = [(r[1], r[3], r[4], r[5]) for r in _rows(wb["操作记录"])[1:]]
    assert said == [
        ("赵书记", "排入值班", "第一网格", "志愿者：王刚；班次开始：2026-11-23 08:00"),
        (
            "命令行",
            "暂停志愿者",
            "王刚",
            "姓名：王刚；网格：第一网格；原因：失联；取消的班次：2；操作途径：命令行",
        ),
        ("赵书记", "网格群改绑到其他网格", "第二网格", "原网格：第一网格；新网格：第二网格"),
        ("赵书记", "移除工作人员", "钱网格长", "角色：网格长；姓名：钱网格长"),
        ("赵书记", "删除居民信息", "周阿姨", "订单：1"),
        ("命令行", "导出台账", "全部", "日期：2026-11-01 – 2026-11-23"),
    ]
