"""The operator chat hears of every error, but never a resident's phone, name or room
(issue 11 point 9): a database failure while 周阿姨 registers, through the real bot."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.factories import STAFF, Harness, Z, register_by_buttons, text_of

SECRETS = ("13800001001", "周阿姨", "502")
# A trigger that refuses every new household, as a broken constraint would (IntegrityError).
REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON residents "
        "BEGIN SELECT RAISE(ABORT, 'database refused the row'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'database refused the row' USING ERRCODE = 'check_violation'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON residents FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


async def test_operator_chat_gets_the_error_without_the_residents_data(harness: Harness) -> None:
    h = harness
    ops = h.emu.create_group("运维值班", members=[STAFF])["id"]
    h.rt.settings.bot.operator_chat_id = ops
    # The database refuses the new household (as a full disk or a broken constraint would):
    # the failing INSERT carries her name, phone and room as SQL parameters.
    backend = make_url(h.rt.settings.database.url).get_backend_name()
    async with h.rt.db.session() as s:
        for statement in REFUSE[backend]:
            await s.execute(sa.text(statement))

    aunt = h.person(1001, "周阿姨")
    await register_by_buttons(h, aunt)
    aunt.contact("13800001001")

    # She is told something went wrong; the operators get the traceback.
    await aunt.expect(
        Z("Sorry, something went wrong on our side. Nothing was lost; please try again.")
    )
    report = await h.emu.wait_for(ops, lambda m: "database refused the row" in text_of(m), 15.0)
    await h.settle()
    reports = [text_of(m) for m in h.emu.messages(ops)]
    assert reports and report in h.emu.messages(ops)
    assert any("IntegrityError" in r for r in reports)
    for text in reports:
        for secret in SECRETS:
            assert secret not in text, (secret, text[-600:])
