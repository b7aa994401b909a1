"""Partner merchants and building group-buys (团购 / 接龙, issue 17): `merchants` (adding one,
importing its product list), `buys` (opening one, announcing it through the notices,
households' ＋/－), `orders` (closing at the deadline in the sweep, staff's ✅, the
merchant's order, XLSX and 📦 delivered), `texts` (the words and buttons)."""

from bot.services.groupbuys.orders import close_due

__all__ = ["close_due"]
