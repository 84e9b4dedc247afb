"""Short, human-typable reference codes for payments and dossiers.

A citizen paying by bank transfer (VietQR) types a transfer note by hand. A UUID is not typable,
so each payment and dossier also has a code derived from its id: a two-letter prefix, ten
Crockford base32 characters (the id's top 50 bits) and one check character. Crockford's alphabet
has no I, L, O or U, and decoding maps the look-alikes (O->0, I/L->1), so what a payer mistypes in
the usual ways still reads back. The check character (Luhn mod 32) catches a single wrong
character and most swaps of two neighbours. Derivation is pure, so payments and reconciliation
compute the same code without talking to each other.
"""

from uuid import UUID

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
BODY_LENGTH = 10
BODY_BITS = BODY_LENGTH * 5
PAYMENT_PREFIX = "TT"  # "thanh toán": payment
DOSSIER_PREFIX = "HS"  # "hồ sơ": dossier
REFUND_PREFIX = "HT"  # "hoàn tiền": refund
CODE_LENGTH = 2 + BODY_LENGTH + 1


# Luhn mod 32 per character: what it adds to the sum when doubled and when not.
_DOUBLED = {char: (2 * d) // 32 + (2 * d) % 32 for d, char in enumerate(ALPHABET)}
_SINGLE = {char: d for d, char in enumerate(ALPHABET)}
# Ten bits at a time (two characters): the characters, and what they add to the check sum
# (the body has an even length, so the right one of each pair is the doubled one).
_PAIRS = [ALPHABET[n >> 5] + ALPHABET[n & 31] for n in range(1024)]
_PAIR_SUMS = [_SINGLE[pair[0]] + _DOUBLED[pair[1]] for pair in _PAIRS]


def _check_character(body: str) -> str:
    """Luhn mod 32: catches every single wrong character and most swaps of two neighbours.
    Factors are 2, 1, 2, 1, … from the right."""
    total = sum(map(_DOUBLED.__getitem__, body[-1::-2])) + sum(
        map(_SINGLE.__getitem__, body[-2::-2])
    )
    return ALPHABET[-total % 32]


def reference_code(prefix: str, identifier: UUID) -> str:
    """The id's top 50 bits as ten Crockford base32 characters, then the check character
    (the same as `_check_character(body)`, from tables: a replay derives a million codes)."""
    value = identifier.int >> (128 - BODY_BITS)
    pairs = [(value >> shift) & 1023 for shift in range(BODY_BITS - 10, -1, -10)]
    body = "".join([_PAIRS[pair] for pair in pairs])
    return f"{prefix}{body}{ALPHABET[-sum([_PAIR_SUMS[pair] for pair in pairs]) % 32]}"


def payment_code(payment_id: UUID) -> str:
    return reference_code(PAYMENT_PREFIX, payment_id)


def dossier_code(dossier_id: UUID) -> str:
    return reference_code(DOSSIER_PREFIX, dossier_id)


def refund_code(refund_id: UUID) -> str:
    return reference_code(REFUND_PREFIX, refund_id)


def canonical_code(candidate: str) -> str | None:
    """The code a 13-character candidate spells after look-alike repair, if its check holds."""
    if len(candidate) != CODE_LENGTH:
        return None
    prefix, rest = candidate[:2], candidate[2:].translate(LOOK_ALIKES)
    body, check = rest[:-1], rest[-1]
    if any(char not in ALPHABET for char in rest):
        return None
    return f"{prefix}{body}{check}" if _check_character(body) == check else None
