"""``python -m sandbox``: run the emulator standalone until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .emulator import Emulator
from .web import SandboxWeb, check_bind


async def serve(
    host: str,
    port: int,
    tokens: list[str],
    limits: dict,
    web_port: int | None = None,
    allow_remote: bool = False,
) -> None:
    check_bind(host, allow_remote)  # anyone who reaches it can act as any user
    emu = Emulator(**limits)
    for token in tokens:
        emu.register_bot(token)
    url = await emu.start(host, port)
    print(f"Telegram Bot API emulator listening on {url}")
    print(f"  bot base_url:      {emu.base_url}")
    print(f"  bot base_file_url: {emu.base_file_url}")
    print(
        f"  control API:       {url}/sandbox/...   (CLI: SANDBOX_URL={url} "
        "python -m sandbox.cli chat USER_ID)",
        flush=True,
    )
    page = None
    if web_port is not None:
        page = SandboxWeb(
            emu,
            clock_note="No clock control: the emulator runs on real time.",
            allow_remote=allow_remote,
        )
        print(f"  browser page:      {await page.start(host, web_port)}", flush=True)
    try:
        await asyncio.Event().wait()  # serve until cancelled (Ctrl-C)
    finally:
        if page is not None:
            await page.stop()
        await emu.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="register a bot token up front (repeatable); the first is default",
    )
    parser.add_argument(
        "--web-port", type=int, default=None, help="also serve the browser page on this port"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="serve a host other than this computer (anyone who reaches it acts as any user)",
    )
    parser.add_argument("--global-rate", type=float, default=30)
    parser.add_argument("--private-rate", type=float, default=1.0)
    parser.add_argument("--private-burst", type=float, default=5)
    parser.add_argument("--group-rate", type=float, default=20)
    parser.add_argument("--group-window", type=float, default=60.0)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="judge the limits where requests arrive, no burst in a private chat (as Telegram)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="enforce the limits in time running this many times faster (the bot must match)",
    )
    args = parser.parse_args(argv)
    limits = {
        "global_rate": args.global_rate,
        "private_rate": args.private_rate,
        "private_burst": args.private_burst,
        "group_rate": args.group_rate,
        "group_window": args.group_window,
        "strict": args.strict,
        "time_scale": args.time_scale,
    }
    try:
        check_bind(args.host, args.allow_remote)
    except PermissionError as e:
        parser.exit(2, f"{e}\n")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(args.host, args.port, args.token, limits, args.web_port, args.allow_remote)
        )


if __name__ == "__main__":
    main()
