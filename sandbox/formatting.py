"""Telegram text formatting: parse_mode → (plain text, entities), like the Bot API server does.

The real server strips markup and returns entities; it also rejects malformed markup with
``Bad Request: can't parse entities: ...``. Reproducing that catches the classic bugs
(an unescaped ``<`` in a user's name, a ``.`` not escaped in MarkdownV2) before production.
Entity offsets/lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field


class EntityParseError(ValueError):
    """Malformed markup; the message is the part after ``can't parse entities: ``."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (astral characters such as most emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


@dataclass
class _Builder:
    """Accumulates plain text while tracking its UTF-16 length for entity offsets."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    entities: list[dict] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: object) -> None:
        if self.length > start:
            ent: dict = {"type": kind, "offset": start, "length": self.length - start}
            ent.update({k: v for k, v in extra.items() if v is not None})
            self.entities.append(ent)

    def result(self) -> tuple[str, list[dict]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ATTR_RE = re.compile(r"""([\w-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_HTML_ENTITY_RE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def parse_html(text: str) -> tuple[str, list[dict]]:
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            end = text.find(">", i)
            if end == -1:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
            inner = text[i + 1 : end].strip()
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack or stack[-1][0] != name:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                        f'expected "</{stack[-1][0] if stack else ""}>", found "</{name}>"'
                    )
                tag, start, attrs = stack.pop()
                _close_html(out, tag, start, attrs, stack)
            else:
                name = re.split(r"\s", inner, maxsplit=1)[0].lower() if inner else ""
                if name not in _HTML_TAGS:
                    raise EntityParseError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
                    )
                attrs = {
                    k.lower(): html.unescape(v.strip("\"'"))
                    for k, v in _ATTR_RE.findall(inner[len(name) :])
                }
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{_byte_offset(text, i)}"
                    )
                stack.append((name, out.length, attrs))
            i = end + 1
        elif ch == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            if match:
                out.add(html.unescape(match.group(0)))
                i = match.end()
            else:
                out.add("&")
                i += 1
        else:
            j = i
            while j < n and text[j] not in "<&":
                j += 1
            out.add(text[i:j])
            i = j
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html(out: _Builder, tag: str, start: int, attrs: dict[str, str], stack: list) -> None:
    kind = _HTML_TAGS[tag]
    if kind == "text_link":
        url = attrs.get("href", "")
        if url.startswith("tg://user?id="):
            out.entity(
                "text_mention",
                start,
                user={"id": int(url.split("=", 1)[1] or 0), "is_bot": False, "first_name": ""},
            )
        else:
            out.entity("text_link", start, url=url)
    elif kind == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> becomes one pre entity with a language.
        lang = attrs.get("class", "")
        stack[-1][2]["language"] = lang.removeprefix("language-")
    elif kind == "pre":
        out.entity("pre", start, language=attrs.get("language") or None)
    elif kind == "blockquote":
        out.entity("expandable_blockquote" if "expandable" in attrs else "blockquote", start)
    elif kind == "custom_emoji":
        out.entity("custom_emoji", start, custom_emoji_id=attrs.get("emoji-id"))
    else:
        out.entity(kind, start)


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    out = _Builder()
    open_: list[tuple[str, int, int]] = []  # (marker, utf16 start, index in text)
    i, n = 0, len(text)
    at_line_start = True
    quote_start: int | None = None
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 < n and 1 <= ord(text[i + 1]) <= 126:
                out.add(text[i + 1])
                i += 2
            else:
                out.add(ch)
                i += 1
            at_line_start = False
            continue
        if ch == "\n":
            if quote_start is not None and not text.startswith(">", i + 1):
                out.entity("blockquote", quote_start)
                quote_start = None
            out.add(ch)
            i += 1
            at_line_start = True
            continue
        if ch == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.length
            i += 1
            at_line_start = False
            continue
        at_line_start = False
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + 3 : end]
            lang = None
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    lang, body = first, rest
            start = out.length
            out.add(re.sub(r"\\([`\\])", r"\1", body))
            out.entity("pre", start, language=lang)
            i = end + 3
            continue
        if ch == "`":
            end = i + 1
            while end < n and text[end] != "`":
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise EntityParseError(
                    f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}"
                )
            start = out.length
            out.add(re.sub(r"\\([`\\])", r"\1", text[i + 1 : end]))
            out.entity("code", start)
            i = end + 1
            continue
        marker = next((m for m in ("||", "__") if text.startswith(m, i)), None)
        if marker is None and ch in "*_~":
            marker = ch
        if marker is not None:
            if open_ and open_[-1][0] == marker:
                _, start, _ = open_.pop()
                out.entity(_MDV2_MARKERS[marker], start)
            elif any(m == marker for m, _, _ in open_):
                raise EntityParseError(
                    f"Can't find end of {_MDV2_MARKERS[open_[-1][0]].capitalize()} entity "
                    f"at byte offset {_byte_offset(text, open_[-1][2])}"
                )
            else:
                open_.append((marker, out.length, i))
            i += len(marker)
            continue
        if ch == "[":
            open_.append(("[", out.length, i))
            i += 1
            continue
        if ch == "]" and open_ and open_[-1][0] == "[":
            if not text.startswith("(", i + 1):
                raise EntityParseError(
                    "Character ']' is reserved and must be escaped with the preceding '\\'"
                )
            end = text.find(")", i + 2)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, i)}"
                )
            _, start, _ = open_.pop()
            url = text[i + 2 : end].replace("\\)", ")").replace("\\\\", "\\")
            out.entity("text_link", start, url=url)
            i = end + 1
            continue
        if ch in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(ch)
        i += 1
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if open_:
        marker, _, index = open_[-1]
        name = "TextUrl" if marker == "[" else _MDV2_MARKERS[marker].capitalize()
        raise EntityParseError(
            f"Can't find end of {name} entity at byte offset {_byte_offset(text, index)}"
        )
    return out.result()


def parse_markdown(text: str) -> tuple[str, list[dict]]:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no escaping rules."""
    out = _Builder()
    i, n = 0, len(text)
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "*_`[":
            out.add(text[i + 1])
            i += 2
        elif text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.length
            out.add(text[i + 3 : end])
            out.entity("pre", start)
            i = end + 3
        elif ch in kinds:
            end = text.find(ch, i + 1)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.length
            out.add(text[i + 1 : end])
            out.entity(kinds[ch], start)
            i = end + 1
        elif ch == "[":
            match = re.compile(r"\[([^\]]*)\]\(([^)]*)\)").match(text, i)
            if not match:
                out.add(ch)
                i += 1
                continue
            start = out.length
            out.add(match.group(1))
            out.entity("text_link", start, url=match.group(2))
            i = match.end()
        else:
            out.add(ch)
            i += 1
    return out.result()


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict] | None]:
    """Apply ``parse_mode``; returns (plain text, entities or None when there are none)."""
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return text, None
    if mode == "html":
        plain, ents = parse_html(text)
    elif mode == "markdownv2":
        plain, ents = parse_markdown_v2(text)
    elif mode == "markdown":
        plain, ents = parse_markdown(text)
    else:
        raise EntityParseError(f"Unsupported parse_mode {parse_mode!r}")
    return plain, ents or None


_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,64})?")


def command_entities(text: str) -> list[dict] | None:
    """A ``bot_command`` entity at offset 0 when the text starts with ``/command``."""
    match = _COMMAND_RE.match(text)
    if not match:
        return None
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]
