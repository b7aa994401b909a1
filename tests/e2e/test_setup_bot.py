"""Setting up a community from the bot: the CSV file `paotui import` reads, sent as a
document; all or nothing, within the sender's community; and the posters as a PDF."""

from __future__ import annotations

from sqlalchemy import select

from models import AuditEntry, Building
from tests.factories import STAFF, Harness, Z, buttons

HEADER = "community,community_code,grid,compound,building,building_code,units\n"


async def test_staff_import_buildings_and_get_posters(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    boss.say("/setup")
    usage = await boss.expect("community,community_code,grid,compound,building")
    assert ("🖨", "su:qr") in [(t[:1], d) for t, d in buttons(usage)]

    # A line for another community: refused for community staff, and nothing imported.
    bad = (
        HEADER
        + "幸福社区,xingfu,第一网格,幸福小区,9栋,xf9,2\n"
        + "阳光社区,yangguang,一网格,阳光花园,1栋,yg1,3\n"
    )
    h.emu.send_document(STAFF, bad.encode(), file_name="b.csv", mime_type="text/csv")
    report = await boss.expect(Z("Nothing was imported: {n} bad lines of {total}."))
    assert "yangguang" in report["text"] and Z("Line {line}: {reason}") in report["text"]
    assert await h.count(Building, Building.code == "xf9") == 0

    good = HEADER + "幸福社区,xingfu,第一网格,幸福小区,9栋,xf9,2\n"
    h.emu.send_document(STAFF, good.encode("utf-8-sig"), file_name="b.csv", mime_type="text/csv")
    done = await boss.expect(Z("Imported. Created, updated, unchanged:"))
    assert "1 / 0 / 0" in done["text"]  # one building created
    async with h.rt.db.read() as s:
        b = await s.scalar(select(Building).where(Building.code == "xf9"))
        assert b is not None and b.units == 2 and b.grid_id == 1
        logged = await s.scalar(select(AuditEntry).where(AuditEntry.action == "setup.imported"))
        assert logged is not None and logged.actor_telegram_id == STAFF

    # The posters: one page per building of the community, as a PDF in the chat.
    await boss.press_data(usage, "su:qr")
    pdf = await boss.expect(lambda m: bool(m.get("document")), timeout=30)
    assert pdf["document"]["file_name"] == "posters.pdf"
    data = h.emu.file_bytes(pdf["document"]["file_id"])
    assert (
        data.startswith(b"%PDF")
        and data.count(b"/Type /Page\n") + data.count(b"/Type /Page/") + data.count(b"/Type /Page ")
        >= 1
    )


async def test_residents_cannot_set_up(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/setup")
    await aunt.expect(Z("Only admins and community staff can set up a community."))
    h.emu.send_document(1001, (HEADER + "x,x,x,x,x,x9,1\n").encode(), file_name="b.csv")
    await aunt.expect(Z("Only admins and community staff can set up a community."))
    assert await h.count(Building, Building.code == "x9") == 0
    assert buttons(aunt.chat()[-1]) == []
