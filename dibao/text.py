"""What people type, cleaned once where it enters: a person's name (:func:`normalise_name`) and free text
(:func:`clean_text`).

Control and formatting characters (Unicode Cc, Cf: BEL, zero-width spaces, bidi overrides such as U+202E) are
invisible on screen but not to the code: a name padded with them, or with a full-width space (张　三), slipped past
the public mask (张*三), BEL came out of xlsx exports as ``_x0007_`` and an override reversed staff lists and the
audit log. Names lose them and every space; free text loses them but keeps line breaks and tabs where it may have
several lines, and everything else as typed.
"""

from __future__ import annotations

import unicodedata

MIDDLE_DOT = "\u00b7"  # 间隔号, as in 阿依古丽·买买提 (minority and transliterated names)
# What input methods and fonts offer in its place (NFKC turns ･ U+FF65 into ・ U+30FB first, and Greek ·
# U+0387 into U+00B7 itself).
_DOT_LOOKALIKES = frozenset("\u30fb\u2022\u2027\uff65\u2219\u22c5")
# Letters by their category that show nothing: Hangul fillers, the combining grapheme joiner, braille blank.
# Treated like formatting characters (padding a name with them would hide it as well as a zero-width space).
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u2800\u17b4\u17b5")
_CONTROL = ("Cc", "Cf")


def is_invisible(ch: str) -> bool:
    """A character a reader does not see: whitespace, a control or formatting character, a filler."""
    return ch.isspace() or ch in INVISIBLE or unicodedata.category(ch) in _CONTROL


def _alphabetic(ch: str) -> bool:
    # Latin, Greek, Cyrillic … letters: the scripts that write a name in words separated by a space.
    code = ord(ch)
    return ch.isalpha() and (code < 0x0590 or 0x1E00 <= code <= 0x1FFF)


def normalise_name(value: str | None) -> str:
    """A person's name as stored: NFKC, no control or formatting character, no whitespace (张　三 → 张三), one
    U+00B7 middle dot for any look-alike and any run of them, none at either end. A space stays (one) only
    between two letters of an alphabetic script (a name typed in pinyin or Latin letters keeps its words).
    Returns "" for nothing left: callers decide whether a name is required."""
    text = unicodedata.normalize("NFKC", value or "")
    if text.isalnum() and INVISIBLE.isdisjoint(text):  # most names: letters only, nothing to clean
        return text
    out: list[str] = []
    gap = False  # whitespace seen since the last kept character
    for ch in text:
        if ch.isspace():
            gap = True
            continue
        if ch in INVISIBLE or unicodedata.category(ch) in _CONTROL:
            continue
        if ch in _DOT_LOOKALIKES:
            ch = MIDDLE_DOT
        if ch == MIDDLE_DOT:
            if out and out[-1] != MIDDLE_DOT:  # never at the start, never two in a row
                out.append(ch)
        else:
            if gap and out and _alphabetic(out[-1]) and _alphabetic(ch):
                out.append(" ")
            out.append(ch)
        gap = False
    while out and out[-1] == MIDDLE_DOT:
        out.pop()
    return "".join(out)


_LINE_BREAKS = {"\r\n": "\n", "\r": "\n"}
_SPACES = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85")  # control characters that separate words: a space


def clean_text(value: str | None, *, multiline: bool = True) -> str:
    """Free text without control or formatting characters (Cc, Cf). ``multiline`` keeps line breaks (CR LF and
    CR become LF) and tabs; on one line they become a space. Everything else is kept as typed; nothing is
    stripped (the domain strips and checks lengths)."""
    if not value:
        return ""
    if value.isprintable():  # nothing but printable characters and ASCII spaces: most text
        return value
    for old, new in _LINE_BREAKS.items():  # one break (or one space) for Windows' CR LF
        value = value.replace(old, new)
    out: list[str] = []
    for ch in value:
        if multiline and ch in "\n\t":
            out.append(ch)
        elif ch in _SPACES:
            out.append(" ")
        elif unicodedata.category(ch) not in _CONTROL:
            out.append(ch)
    return "".join(out)


def clean_line(value: str | None) -> str:
    """:func:`clean_text` for text of one line (a title, an address, a reason typed in a field)."""
    return clean_text(value, multiline=False)
