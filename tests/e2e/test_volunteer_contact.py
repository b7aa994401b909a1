"""A volunteer's phone number is their own: someone else's shared contact is refused."""

from __future__ import annotations

from sqlalchemy import select

from models import Volunteer
from tests.factories import Harness, Z, buttons, text_of

ASK_PHONE = "Your phone number? Only staff and the residents whose task you take can see it."
NOT_OWN = "Please share your own number with the button, or type it."


async def test_volunteer_sharing_someone_elses_contact_is_refused(harness: Harness) -> None:
    h = harness
    p = h.person(4101, "小周")
    p.say("/volunteer")
    await p.expect(lambda m: "/cancel" in text_of(m))
    p.say("小周")
    await p.expect(Z(ASK_PHONE))
    # A contact card of another Telegram user (forwarded from the address book).
    h.emu.send_contact(4101, "13900009999", first_name="邻居", contact_user_id=4999)
    refused = await p.expect(Z(NOT_OWN))
    assert not buttons(refused)
    await h.settle()
    # Asked again: no grid question came, nothing was saved.
    assert not any(any(d.startswith("j:g:") for _, d in buttons(m)) for m in p.chat())
    assert await h.count(Volunteer) == await h.count(Volunteer, Volunteer.telegram_id != 4101)
    # Their own number goes through, and it is the one kept.
    p.contact("13600005555")
    grids = await p.expect(lambda m: any(d.startswith("j:g:") for _, d in buttons(m)))
    await p.press_data(grids, "j:g:1")
    when = await h.wait_edit(
        4101, grids["message_id"], lambda m: "j:a:day" in str(m.get("reply_markup"))
    )
    await p.press_data(when, "j:a:day")
    await h.wait_edit(4101, grids["message_id"], lambda m: "小周" in text_of(m))
    async with h.rt.db.read() as s:
        vol = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == 4101))
    assert vol is not None and vol.phone == "13600005555"
    assert "13900009999" not in vol.phone
