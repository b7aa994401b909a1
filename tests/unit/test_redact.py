"""Contact details typed into a description never reach a group (issue 11, point 3): each of
the disguises that got past the old filter, and ordinary descriptions that must stay readable."""

from __future__ import annotations

import pytest

from bot.services.redact import MASK, redact, shadow

PHONE = "13800138000"

# Each string leaked through the old `\d[\d -]{5,}\d` filter in the real flow.
DISGUISED_PHONES = [
    "138.0013.8000",
    "138/0013/8000",
    "138_0013_8000",
    "138，0013，8000",
    "138–0013–8000",  # en dash
    "138—0013—8000",  # em dash
    "138 0013 8000",
    "138-0013-8000",
    "+86 138 0013 8000",
    "（138）0013·8000",
    "一三八零零一三八零零零",
    "一三八〇〇一三八〇〇〇",
    "壹叁捌零零壹叁捌零零零",
    "①③⑧⓪⓪①③⑧⓪⓪⓪",
    "¹³⁸⁰⁰¹³⁸⁰⁰⁰",
    "１３８００１３８０００",  # full-width
    "1\u200b3\u200b8\u200b0\u200b0\u200b1\u200b3\u200b8\u200b0\u200b0\u200b0",
    "138\u200c0013\u200d8000\u2060\ufeff",
    "138OO138OOO",
    "138oo138ooo",
    "l38OOl38OOO",
]


@pytest.mark.parametrize("phone", DISGUISED_PHONES)
def test_a_phone_number_is_masked_however_it_is_written(phone: str) -> None:
    out = redact(f"白菜，打我电话{phone}谢谢")
    assert out.startswith("白菜，打我电话") and out.endswith("谢谢") and MASK in out, out
    # Not one digit is left, in any of its disguises.
    assert not any(c.isdigit() for c in shadow(out.replace(MASK, ""))), out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("住3栋2单元501室", f"住{MASK}"),
        ("送到3号楼2单元501", f"送到{MASK}"),
        ("2单元501室门口", f"{MASK}门口"),
        ("放501号门口", f"放{MASK}门口"),
        ("我住5楼，没有电梯", f"我住{MASK}，没有电梯"),
        ("住五楼", f"住{MASK}"),
        ("1-2-301 门口", f"{MASK} 门口"),
        ("放在 2-301 门口", f"放在 {MASK} 门口"),
        ("B501室", MASK),
        ("住在3栋2单元，门牌501", f"住在{MASK}，{MASK}"),
        ("房号：1202", MASK),
    ],
)
def test_a_room_or_address_is_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加微信 zhou_ayi_1960", f"加微信 {MASK}"),
        ("微信号：zhouayi1960，谢谢", f"微信号：{MASK}，谢谢"),
        ("有事vx zhou-ayi", f"有事vx {MASK}"),
        ("wx:zhouayi60", f"wx:{MASK}"),
        ("WX: Zhou_Ayi", f"WX: {MASK}"),
        ("QQ 12345", f"QQ {MASK}"),
        ("qq号是 87654321", f"qq号是 {MASK}"),
        ("邮件 zhou.ayi@example.com", f"邮件 {MASK}"),
        ("ｖｘ：ｚｈｏｕａｙｉ", f"ｖｘ：{MASK}"),
    ],
)
def test_a_wechat_qq_or_email_handle_is_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2斤鸡蛋, 一瓶酱油, 500ml牛奶",
        "布洛芬 2盒",
        "两颗白菜，一盒鸡蛋",
        "预算¥35，找零给现金",
        "¥35.5",
        "取快递 顺丰 3号柜 取件码 1234",
        "下午2点到5点之间送，12月2号之前",
        "阿莫西林胶囊 0.25g×24粒 两盒",
        "用微信支付，QQ音乐会员不要",
        "10:00-12:00 送到",
        "3号线地铁站旁边的药店",
        "打印 20 页，双面",
        "2026-12-01 之前送到",
    ],
)
def test_an_ordinary_description_stays_readable(text: str) -> None:
    assert redact(text) == text


def test_the_orders_own_name_and_room_are_masked_where_they_stand() -> None:
    known = ("周阿姨", "502", PHONE)
    assert redact("周阿姨要的，送502", known) == f"{MASK}要的，送{MASK}"
    # A room number inside another number, or an order id, is not the room.
    assert redact("买1502克面粉 #502", known) == "买1502克面粉 #502"


def test_invisible_characters_are_dropped_from_what_is_shown() -> None:
    assert redact("白\u200b菜") == "白菜"
