"""The notice's preview says how many households will get it, buildings are named with their
compound ("幸福小区 1栋"), and the prompt reads naturally (issue 15 point 9)."""

from __future__ import annotations

from handlers.notices import ASK_AUDIENCE, PREVIEW_TO, REACH_GROUPS, REACH_HOUSEHOLDS
from tests.factories import STAFF, Harness, Z, buttons, text_of


async def test_preview_counts_households_and_names_the_compound(harness: Harness) -> None:
    h = harness
    await h.register(1001, "周阿姨", building_code="xf1", room="101")
    await h.register(1002, "吴大爷", building_code="xf1", room="102")
    await h.register(1003, "孙奶奶", building_code="xf1", unit="2", room="201")
    await h.register(1004, "钱叔叔", building_code="hp5")
    boss = h.person(STAFF, "赵书记")

    # One building: listed with its compound, the prompt names it, the preview counts 3.
    boss.say("/notice")
    whom = await boss.expect(Z(ASK_AUDIENCE))
    await boss.press(whom, Z("🏢 A building"))
    which = await h.wait_edit(STAFF, whom["message_id"], lambda m: "n:t:b" in str(buttons(m)))
    assert "发给哪栋楼的居民？" in text_of(which)
    labels = [t for t, d in buttons(which) if d.startswith("n:t:b")]
    assert labels == ["幸福小区 1栋", "幸福小区 2栋", "幸福小区 3栋", "和平里 5栋", "和平里 6栋"]
    await boss.press(which, "幸福小区 1栋")
    asked = await h.wait_edit(STAFF, whom["message_id"], lambda m: "写些什么" in text_of(m))
    assert "幸福小区 1栋的居民" in text_of(asked)
    assert "某栋楼" not in text_of(asked)  # not the audience's button label
    boss.say("明天上午9点停水")
    preview = await boss.expect(Z(PREVIEW_TO))
    assert "幸福小区 1栋的居民" in text_of(preview)
    assert Z(REACH_HOUSEHOLDS).replace("{n}", "") in text_of(preview)
    assert "将收到的住户：3 户" in text_of(preview)
    await boss.press(preview, "✖️")
    await boss.expect(lambda m: True)

    # The whole community: its four households and the two group chats.
    boss.say("/notice")
    whom = await boss.expect(Z(ASK_AUDIENCE))
    await boss.press(whom, Z("🏘 The whole community"))
    await h.wait_edit(STAFF, whom["message_id"], lambda m: "幸福社区全体居民" in text_of(m))
    boss.say("疫苗接种通知")
    preview = await boss.expect(Z(PREVIEW_TO))
    assert "将收到的住户：4 户" in text_of(preview)
    assert Z(REACH_GROUPS).format(n=2) in text_of(preview)
    await h.settle()
