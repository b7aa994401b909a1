"""The order form's conversation, put together: a resident's /order, 📝 下单, 🆕 and 🔁 order
again, and 📞 代下单 (handlers/phone_orders.py finds the household, then the same form goes on
for it). Its own room so that neither of the two imports the other."""

from __future__ import annotations

from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from handlers import ordering, phone_orders
from handlers.context import AppContext
from handlers.keyboards import MENU_ORDER, label_pattern

# A typed, photographed or spoken answer to the form's question.
ANSWERS = (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.VOICE


def build_order_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    order_entry = [
        *phone_orders.entry_points(),
        CommandHandler("order", ordering.order_start, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_ORDER)), ordering.order_start),
        ordering.NEW.handler(ordering.order_start),
        ordering.AGAIN.handler(ordering.order_again),
    ]
    return ConversationHandler(
        entry_points=order_entry,
        states={
            ordering.ORD_FOR: [ordering.FOR.handler(ordering.recipient_chosen)],
            ordering.ORD_CATEGORY: [ordering.CATEGORY.handler(ordering.category_chosen)],
            ordering.ORD_STEP: [
                ordering.CHOICE.handler(ordering.choice_given),
                MessageHandler(
                    (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.VOICE,
                    ordering.input_given,
                ),
                MessageHandler(~filters.COMMAND, ordering.input_unsupported),
            ],
            ordering.ORD_CONFIRM: [
                ordering.SEND.handler(ordering.order_confirmed),
                ordering.SEND_REPEAT.handler(ordering.order_confirmed_repeating),
                ordering.EDIT.handler(ordering.edit_step),
                ordering.DOORSTEP.handler(ordering.doorstep_toggled),
            ],
            **phone_orders.states(),
            **ordering.EXITS.timeout,
        },
        fallbacks=[*ordering.EXITS.stop, *order_entry, *ordering.EXITS.stray],
        name="order",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )
