"""/help and ❓: what the bot does, for the reader's roles (resident, volunteer, staff)."""

from __future__ import annotations

from telegram import Update

from bot.i18n import N_
from handlers.answers import is_private
from handlers.context import AppContext
from handlers.keyboards import menu_for

HELP_RESIDENT = N_(
    "I am the community errand bot (跑腿). Volunteers of your grid run errands for you:\n"
    "• 📝 Order: groceries, medicine, a gas top-up or another errand\n"
    "• 📋 My orders: follow, cancel or confirm your orders, talk to the volunteer, report a "
    "problem, order again\n"
    "• 👤 My info: your address, people you order for, the care list\n"
    "• 🌐 Language: 中文 / English\n\n"
    "Deliveries are contactless: the volunteer knocks and leaves it at your door.\n"
    "Commands: /start /order /orders /me /language /cancel /help"
)
HELP_RESIDENT_REPEAT = N_(
    "🔁 Repeat regularly, on a finished order's card: the same order every day, every week or "
    "every month at a time you choose. 📋 My orders lists them: ⏸ pause, ▶️ resume, ✖️ stop."
)
HELP_RESIDENT_GROUPBUY = N_(
    "🛒 Group-buys: when the community opens a group-buy (团购) for your building, you get a "
    "message; choose what you want with ＋/－ until its deadline. 🛒 Group-buys shows the ones "
    "open now."
)
HELP_VOLUNTEER = N_(
    "Volunteers: new tasks appear in your grid's group. Press 🙋 to take one; the address "
    "comes to you here, privately. Move it along with the buttons: 🛒 Bought, 🚶 On the way, "
    "📦 Delivered (I then ask for a photo at the door and what you spent, with the receipt). "
    "/mytasks lists the tasks you are running."
)
HELP_VOLUNTEER_MORE = N_(
    "In the group, /tasks lists the open tasks. /history lists the tasks you finished. "
    "🚫 on a card closes a task that cannot be done, with the reason."
)
HELP_STAFF = N_(
    "Staff: /notice sends a notice (community, grid, building, care list, volunteers) now or "
    "at a set time; /notices shows who confirmed."
)
HELP_VOLUNTEER_SHIFTS = N_(
    "/shifts lists your shifts on the duty roster; 🔁 asks a colleague of your grid to take "
    "one. I remind you before each shift."
)
HELP_VOLUNTEER_DUTY = N_(
    "/duty: 🟢 go on duty (new tasks of your grid then also come to you here) or ⚪ off duty. "
    "A task nobody takes is sent again, and later to the whole community."
)
HELP_STAFF_ROSTER = N_(
    "/roster sets the duty roster of a grid: choose a day and a shift, then the volunteers."
)
HELP_STAFF_REPORTS = N_(
    "/stats shows today's orders, times to claim and deliver, and what waits unclaimed "
    "(/stats 2026-11-01 2026-11-23 for some days); /export sends the ledger (台账) as Excel."
)
HELP_STAFF_VOLUNTEERS = N_(
    "/volunteers lists a grid's volunteers: ✖️ suspends one (off duty, their tasks back to the "
    "group, no more tasks or addresses), ↩️ lets them work again."
)
HELP_VOLUNTEER_PAY = N_(
    "/payqr keeps a picture of your payment QR code: a resident you deliver to with an amount "
    "sees it privately with what they owe you. Press 💰 Money received when you have it."
)
HELP_STAFF_UNPAID = N_(
    "/unpaid lists deliveries whose money the volunteer has not confirmed receiving."
)
HELP_STAFF_REPEATS = N_(
    "/repeats lists the repeating orders of the households in your scope: ⏸ pause, "
    "▶️ resume, ✖️ stop (the household is told)."
)
HELP_STAFF_GROUPBUY = N_(
    "/groupbuy opens a group-buy (团购) of a partner merchant for some buildings: residents "
    "choose with ＋/－ until the deadline; then ✅ orders it from the merchant. Send a "
    "merchant's product list as a CSV file (name,unit,price) with the caption 商家 NAME."
)
HELP_STAFF_MERCHANTS = N_(
    "/merchants lists the partner merchants of your community: 📦 their products, 👤 a new "
    "contact person, ✖️ take one off; ➕ adds one (name, kind, the contact's Telegram id: they "
    "get it by sending /merchant to me)."
)
HELP_STAFF_GBCHECK = N_(
    "/gbcheck N shows a group-buy after its deadline: doors delivered, received and paid, the "
    "problems households reported (✅ Handled) and who has not paid (💵 marks one paid)."
)
HELP_STAFF_PLACES = N_(
    "/places (🏢) lists the distribution points and checkpoints, the buildings each serves and "
    "their status; /setstatus CODE STATUS [time] sets a building's status (its residents are "
    "told the rules)."
)
HELP_STAFF_CARE = N_(
    "/care keeps the care list (包保): vulnerable households, who is responsible for each, "
    "home isolation. They are asked each morning whether all is well."
)


HELP_STAFF_MENU = N_(
    "Community staff: the buttons below do your work. 📊 Stats: today's orders and what waits; "
    "📋 To do: the alerts nobody has handled yet (✅ Handled on an alert tells the others); "
    "🧡 Care list: find a household by building or phone, mark it, name who looks after it; "
    "📢 Send a notice, 📬 Notices sent: who confirmed; 📤 Export the ledger; 🗓 Roster; "
    "🙋 Volunteers."
)
HELP_VOLUNTEER_MENU = N_(
    "Volunteers: 🧾 My tasks lists the tasks you run; 🟢 On/off duty; 🗓 My shifts; "
    "📜 Finished tasks."
)


async def help_command(update: Update, ctx: AppContext) -> None:
    roles = await ctx.person()  # first: one session reads the roles and the language
    _ = await ctx.gettext()
    # Each reader's own work first: staff read staff work, volunteers their tasks; the
    # resident's part comes after for those who also order for themselves.
    parts: list[str] = []
    if roles and roles.is_staff:
        staff_help = (
            HELP_STAFF_MENU,
            HELP_STAFF,
            HELP_STAFF_ROSTER,
            HELP_STAFF_VOLUNTEERS,
            HELP_STAFF_CARE,
            HELP_STAFF_REPORTS,
            HELP_STAFF_UNPAID,
            HELP_STAFF_REPEATS,
            HELP_STAFF_GROUPBUY,
            HELP_STAFF_MERCHANTS,
            HELP_STAFF_GBCHECK,
            HELP_STAFF_PLACES,
        )
        parts.append("\n".join(_(m) for m in staff_help))
    if roles and roles.volunteer_id:
        parts.append(
            "\n".join(
                _(m)
                for m in (
                    HELP_VOLUNTEER_MENU,
                    HELP_VOLUNTEER,
                    HELP_VOLUNTEER_DUTY,
                    HELP_VOLUNTEER_MORE,
                    HELP_VOLUNTEER_SHIFTS,
                    HELP_VOLUNTEER_PAY,
                )
            )
        )
    parts.append(
        _(HELP_RESIDENT) + "\n" + _(HELP_RESIDENT_REPEAT) + "\n" + _(HELP_RESIDENT_GROUPBUY)
    )
    markup = menu_for(roles, _) if is_private(update) else None
    if update.effective_message:
        await update.effective_message.reply_text("\n\n".join(parts), reply_markup=markup)
