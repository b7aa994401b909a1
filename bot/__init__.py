"""What the bot does, with no Telegram types: config, database, services, outbox, i18n, CLI."""
