"""The `paotui` command line: the operator's side of the bot, the top layer of the code.

`cli.main` parses the arguments and runs a subcommand; each other module owns a family of
subcommands (`setup`: import and qr, `staff`, `volunteer`, `resident`, `reports`: export) and
`common` what they share. It may import every layer below it: `bot/` (services, config,
database), `models/`, and `handlers/` (only `paotui run`, which starts the Telegram side).
"""
