"""How Telegram talks to paotui: thin callbacks per audience, plus the composition root."""

import os

# Opt in to PTB's timedelta durations now (RetryAfter.retry_after etc.); the int form is
# deprecated since v22.2 and warns on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
