"""Finding payment references in what the bank passes on: structured references, and codes a
payer typed by hand into a transfer note.

Structured references (end-to-end id, order refs, gateway transaction refs) are compared as whole
tokens, case-insensitively. Transfer notes are messier: "nop phi ho so tt 02ym s2qa 8s6",
"Nộp phí TT02YMS2QA8S6", "TT-02YMS2QA8S6". For those, the note is folded (diacritics removed,
upper case, only letters and digits kept) and searched for payment (TT…) and dossier (HS…) codes,
whose check character makes a false hit unlikely. Each hit carries a confidence in percent.
"""

import re
import unicodedata
from dataclasses import dataclass

from schemas.codes import (
    CODE_LENGTH,
    DOSSIER_PREFIX,
    PAYMENT_PREFIX,
    REFUND_PREFIX,
    canonical_code,
)

CONFIDENCE_VERBATIM = 100  # the exact code, as a token of the note
CONFIDENCE_FOLDED = 90  # found after removing spaces, punctuation, case and diacritics
CONFIDENCE_REPAIRED = 80  # found after also reading O as 0 and I/L as 1
NOTE_LENGTH_MAX = 500
TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
NOT_ALPHANUMERIC = re.compile(r"[^A-Z0-9]")
CODE_START = re.compile(f"(?=({PAYMENT_PREFIX}|{DOSSIER_PREFIX}|{REFUND_PREFIX}))")
VIETNAMESE_D = str.maketrans({"đ": "d", "Đ": "D"})


@dataclass(frozen=True)
class CodeHit:
    code: str
    confidence: int


def tokens(*texts: str | None) -> set[str]:
    """Upper-cased whole tokens of the given texts (letters, digits, '_' and '-')."""
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(token.upper() for token in TOKEN.findall(text[:NOTE_LENGTH_MAX]))
    return found


def fold(text: str) -> str:
    """Upper case, no diacritics, only A-Z and 0-9: "Nộp phí tt 02ym" -> "NOPPHITT02YM"."""
    decomposed = unicodedata.normalize("NFKD", text[:NOTE_LENGTH_MAX].translate(VIETNAMESE_D))
    ascii_only = "".join(char for char in decomposed if not unicodedata.combining(char))
    return NOT_ALPHANUMERIC.sub("", ascii_only.upper())


def codes_in_note(note: str | None) -> list[CodeHit]:
    """Every payment or dossier code in a note, best confidence first, each code once."""
    if not note:
        return []
    best: dict[str, int] = {}
    for token in tokens(note):
        if canonical_code(token) == token:
            best[token] = CONFIDENCE_VERBATIM
    folded = fold(note)
    for start in (match.start() for match in CODE_START.finditer(folded)):
        candidate = folded[start : start + CODE_LENGTH]
        code = canonical_code(candidate)
        if code is None:
            continue
        confidence = CONFIDENCE_FOLDED if code == candidate else CONFIDENCE_REPAIRED
        best[code] = max(best.get(code, 0), confidence)
    return sorted(
        (CodeHit(code, confidence) for code, confidence in best.items()),
        key=lambda hit: (-hit.confidence, hit.code),
    )
