"""VERIFY.md, the procedure shipped inside every audit package.

Kept as Python text (not a data file) so that it always travels with the code that writes the
package, installed or not. `events/audit/package_verify.py` is this procedure, step by step.
"""

VERIFY_MD = """\
# How to verify this audit package

This folder holds the events the province's payment service recorded in one period, exactly as
they are stored, and the province's signed statements of what its history was at each day's end.
You need no access to the province's systems: only these files, a JSON parser, SHA-256 and
Ed25519 (RFC 8032). `fees audit verify-package DIR --public-key KEY` does all of this; the steps
below let you do it in any language. Hex is lower-case; base64 is standard with padding.

## Files

- `events.jsonl`: one event per line, UTF-8, every line ending with "\\n" (LF), no empty lines,
  in position order.
- `manifest.json`: what the package claims (format `province-fees/audit-package/v1`).
- `VERIFY.md`: this text.

`manifest.json` fields: `period` (`first_day`, `last_day`, `zone`, and the UTC instants `after`
and `up_to` that bound the events' `recorded_at`), `anchor` (`position`, `entry_hash`,
`recorded_at` of the event just before the first one; position 0, 64 zeros and "none" when the
period starts with the first event ever), `first_position`, `last_position`, `event_count`,
`last_entry_hash`, `events_file`, `events_sha256`, and `checkpoints` (see step 4).

## 1. The file as a whole

Compute SHA-256 over the raw bytes of `events.jsonl`; it must equal `events_sha256`.
`first_position` must be `anchor.position + 1` and `last_position` must be
`anchor.position + event_count`.

## 2. Each event line (n = 1, 2, ...)

1. Parse the line (without its "\\n") as one JSON object. Refuse: a number with a fraction or an
   exponent (events hold integers only), NaN or Infinity, and an object with a key twice.
2. The object must have exactly these keys: `actor`, `causation_id`, `correlation_id`,
   `entry_hash`, `event_id`, `event_type`, `occurred_at`, `payload`, `position`, `recorded_at`,
   `schema_version`, `stream_id`, `stream_version`.
3. `position` must be `anchor.position + n`.
4. Take `entry_hash` (64 hex digits) out of the object. What remains is the event's canonical
   document. Encode it as UTF-8 JSON text:
   - object keys sorted by Unicode code point (the same as sorting their UTF-8 bytes; not by
     UTF-16 units), at every level of nesting, the payload included;
   - no whitespace at all: `,` between members and elements, `:` between key and value;
   - strings: characters as they are (not \\u-escaped), except `"` as `\\"`, `\\` as `\\\\`,
     and the control characters U+0000..U+001F as `\\b \\f \\n \\r \\t` where those exist, the
     others as `\\u00XX` with lower-case hex;
   - integers in plain decimal, `true`, `false`, `null`.
   This is exactly Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"),
   ensure_ascii=False).encode("utf-8")`. (In these documents UUIDs are lower-case strings and
   instants are UTC strings `YYYY-MM-DDTHH:MM:SS.ffffffZ`.)
5. Compute `SHA-256(previous_hash || document)`, where `||` joins bytes and `previous_hash` is the
   32 bytes of the previous line's `entry_hash` (for line 1: of `anchor.entry_hash`). It must
   equal this line's `entry_hash`. If not, this line (or the anchor) was altered.

After the last line: the number of lines must be `event_count` and the last `entry_hash` must be
`last_entry_hash` (for an empty period: `anchor.entry_hash`).

## 3. What this proves so far

The lines form an unbroken hash chain from the anchor, so no event can be changed, removed,
inserted or moved without changing every later hash. It does not yet prove that this chain is
the province's: anyone can compute a consistent chain. Step 4 does.

## 4. The signed checkpoints

Each entry of `checkpoints` is the province's signature over its chain's head at the end of one
business day (the day before the period, and each day in it): `business_date`, `position`,
`head_hash`, `head_recorded_at` (or "none" at position 0), `key_id`, `public_key` (base64 of the
raw 32-byte Ed25519 key), `signature` (base64 of 64 bytes), `message`. For each:

1. Obtain the province's public key(s) yourself (published by the province, not from this
   package). `key_id` must be the first 16 hex digits of SHA-256(raw public key), and must be the
   id of a key you trust. Old keys stay valid for the checkpoints they signed before a rotation.
2. Build the message, the UTF-8 bytes of
   `province-fees/checkpoint/v1|<business_date>|<position>|<head_hash>|<head_recorded_at>|<key_id>`
   (e.g. `province-fees/checkpoint/v1|2026-11-24|1520|9f...e1|2026-11-24T16:59:58.120531Z|4be1...`).
   It must equal `message`.
3. Verify the Ed25519 signature of that message with the trusted public key.
4. Find the hash at `position` in the package: `anchor.entry_hash` if it is `anchor.position`,
   else the `entry_hash` (and `recorded_at`) of the line with that position. Both must equal
   `head_hash` and `head_recorded_at`. A position outside anchor..last is an error.

The checkpoint of `period.last_day` must verify and sign `last_position`, and (unless
`anchor.position` is 0) the checkpoint of the day before `period.first_day` must verify and sign
`anchor.position`: then every event in the package is exactly the history the province signed
for the whole period, a chain rewritten after signing, even with every hash recomputed, fails
here, and so does a package cut short at either end. Every line's `recorded_at` must also lie
after `period.after` and at or before `period.up_to`.

## 5. Verdict

The package is valid only if every step passed. Report the first failing line of
`events.jsonl`, if any: nothing after a broken line can be trusted.
"""
