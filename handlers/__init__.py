"""How Telegram talks to paotui: thin callbacks per audience, plus the composition root."""
