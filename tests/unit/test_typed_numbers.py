"""How residents type a unit, a room and a budget: the number is taken from
what people write, and what is no number is refused with the hint."""

from __future__ import annotations

import pytest

from bot.errors import Refused
from bot.services.orders import form
from bot.services.residents import clean_room, clean_unit


@pytest.mark.parametrize(
    ("typed", "room"),
    [
        ("302", "302"),
        ("302室", "302"),
        ("３０２", "302"),  # a phone's full-width digits
        ("三楼302", "302"),
        ("3层302号", "302"),
        ("12楼1203", "1203"),
        ("房间302", "302"),
        ("5楼 302 室", "302"),
        ("1-302", "1-302"),
        ("A302", "A302"),
    ],
)
def test_the_room_number_is_taken_from_what_people_write(typed: str, room: str) -> None:
    assert clean_room(typed) == room


@pytest.mark.parametrize("typed", ["三楼左边那家!!", "3层", "", "楼上"])
def test_no_room_number_is_refused(typed: str) -> None:
    with pytest.raises(Refused):
        clean_room(typed)


@pytest.mark.parametrize(
    ("typed", "unit"), [("3", "3"), ("3单元", "3"), ("三单元", "3"), ("３", "3")]
)
def test_the_unit_is_taken_from_what_people_write(typed: str, unit: str) -> None:
    assert clean_unit(typed, 4) == unit


def test_a_unit_the_building_lacks_is_refused() -> None:
    with pytest.raises(Refused):
        clean_unit("五单元", 4)


@pytest.mark.parametrize(
    ("typed", "budget"),
    [("80", "80"), ("八十块", "80"), ("一百五", "150"), ("大概200元左右", "200"), ("35.5", "35")],
)
def test_a_budget_is_taken_as_people_say_it(typed: str, budget: str) -> None:
    assert form.clean("budget", typed, 500) == budget


@pytest.mark.parametrize("typed", ["很多", "0", "十万", "-5"])
def test_no_budget_is_refused(typed: str) -> None:
    with pytest.raises(Refused):
        form.clean("budget", typed, 500)
