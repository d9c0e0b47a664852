"""The gen_id algorithms of the DayDreaming pipeline and classification of IDs by shape.

Deterministic IDs (from 2025-09-29) hash a stage signature with BLAKE2b-80 and print it in
base36 behind a stage prefix; legacy IDs are 16 bare base36 characters. The length of an ID
says nothing reliable about its kind (the hash is not zero-padded), so we classify by shape.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

STAGES = ("draft", "essay", "evaluation")
PREFIX = {"draft": "d_", "essay": "e_", "evaluation": "v_"}
STAGE_OF_PREFIX = {p: s for s, p in PREFIX.items()}
# The stage a generation's parent must live in.
PARENT_STAGE = {"essay": "draft", "evaluation": "essay"}
# Dagster dynamic partition sets, whose keys are gen_ids.
PARTITION_SET = {s: f"{s}_gens" for s in STAGES}

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_COLLISION = 4
HASH_LIMIT = 1 << 80  # a 10-byte digest: every valid hash value is below this

_DETERMINISTIC = re.compile(r"^([dev])_([1-9a-z][0-9a-z]{0,15})(?:-([1-4]))?$")
_LEGACY = re.compile(r"^[0-9a-z]{16}$")

DETERMINISTIC, LEGACY, MALFORMED = "deterministic", "legacy", "malformed"

# A run of the characters an ID is made of: an ID inside a longer text (a path, a sentence) is
# one whole run, never part of a longer one.
ID_TOKEN = re.compile(r"[0-9A-Za-z_-]+")

# Signature fields per stage, in hashing order; the tuples name alternatives tried in turn.
SIGNATURE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "draft": (("combo_id",), ("template_id",), ("llm_model_id",), ("replicate",)),
    "essay": (("parent_gen_id",), ("template_id", "essay_template"), ("replicate",)),
    "evaluation": (
        ("parent_gen_id",),
        ("template_id", "evaluation_template"),
        ("llm_model_id",),
        ("replicate",),
    ),
}


class SignatureError(ValueError):
    """The metadata does not determine a deterministic ID (a field is missing or invalid)."""


_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]  # two digits per divmod: half the steps


def base36(value: int) -> str:
    """Most significant digit first, no padding (so hashes below 36**15 print shorter)."""
    if value < 36:
        return ALPHABET[value]
    chunks = []
    while value:
        value, rem = divmod(value, 1296)
        chunks.append(_PAIRS[rem])
    return "".join(reversed(chunks)).lstrip("0")


def normalize_text(value: Any, field: str) -> str:
    if value is None:
        raise SignatureError(f"{field} is missing")
    text = str(value).strip().lower()
    if not text:
        raise SignatureError(f"{field} is empty")
    return text


def normalize_replicate(value: Any) -> int:
    """The pipeline's rule: absent -> 1, int/float -> int(), digit string -> int, else error."""
    if value is None:
        return 1
    if isinstance(value, (int, float)):
        try:
            return int(value)
        except (OverflowError, ValueError):  # inf and nan
            raise SignatureError(f"replicate {value!r} is not a number") from None
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    raise SignatureError(f"replicate {value!r} is not an integer")


# The text fields of each signature under their current names; replicate comes last in all.
_TEXT_FIELDS = {stage: tuple(names[0] for names in fields[:-1]) for stage, fields in SIGNATURE_FIELDS.items()}


def positive_int(value: Any) -> int | None:
    """A replicate count or number as the pipeline accepts one: an int >= 1, or a string of
    ASCII digits worth >= 1 (not a bool, not a float); None for anything else."""
    if type(value) is int:
        return value if value >= 1 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
    return None


def common_signature(stage: str, meta: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The signature in the common case, else None: every text field present under its
    current name and not blank, and a whole-number replicate. One pass, no alternatives."""
    rep = meta.get("replicate")
    if type(rep) is int:
        try:
            texts = [meta[f].strip().lower() for f in _TEXT_FIELDS[stage]]
        except (KeyError, AttributeError):
            return None
        if all(texts):
            texts.append(str(rep))
            return tuple(texts)
    return None


def signature(stage: str, meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The normalised signature components of a generation, in hashing order."""
    parts = common_signature(stage, meta) if stage in _TEXT_FIELDS else None
    if parts is not None:
        return parts
    try:
        fields = SIGNATURE_FIELDS[stage]
    except KeyError:
        raise SignatureError(f"unknown stage {stage!r}") from None
    parts: list[str] = []
    for names in fields:
        if names[0] == "replicate":
            parts.append(str(normalize_replicate(meta.get("replicate"))))
            continue
        value = meta.get(names[0])
        if (value is None or value == "") and len(names) > 1:
            value = next((meta[n] for n in names[1:] if meta.get(n) not in (None, "")), value)
        if type(value) is str:  # the common case, inlined: strip, lower, non-empty
            text = value.strip().lower()
            if text:
                parts.append(text)
                continue
        parts.append(normalize_text(value, names[0]))
    return tuple(parts)


def hash_value(parts: tuple[str, ...], collision: int = 0) -> int:
    """BLAKE2b-80 of an already-normalised signature, as a number; k in 1..4 salts it."""
    canonical = "|".join(parts)
    if collision:
        canonical += f"|collision:{collision}"
    return int.from_bytes(hashlib.blake2b(canonical.encode("utf-8"), digest_size=10).digest(), "big")


def deterministic_id(stage: str, parts: tuple[str, ...], collision: int = 0) -> str:
    """The ID for an already-normalised signature; collision k in 1..4 salts the hash."""
    gen_id = PREFIX[stage] + base36(hash_value(parts, collision))
    return f"{gen_id}-{collision}" if collision else gen_id


def id_for(stage: str, meta: Mapping[str, Any]) -> str:
    """The deterministic ID (k = 0) that a generation's metadata implies."""
    return deterministic_id(stage, signature(stage, meta))


def matching_collision(stage: str, parts: tuple[str, ...], gen_id: str) -> int | None:
    """Which k in 0..4 makes `gen_id` from this signature, or None if none does.

    The suffix of the ID names the only k worth hashing, so this costs one hash, not five.
    """
    k = collision_of(gen_id)
    return k if deterministic_id(stage, parts, k) == gen_id else None


def collision_of(gen_id: str) -> int:
    """The k of a `-k` collision suffix, 0 when there is none."""
    if len(gen_id) > 2 and gen_id[-2] == "-" and gen_id[-1] in "1234":
        return int(gen_id[-1])
    return 0


def legacy_id(stage: str, task_id: str, run_id: str | None = None, salt: str | None = None) -> str:
    """The pre-2025-09-29 `reserve_gen_id`: SHA-256 of 'part|' parts, 12 bytes, base36, 16 chars."""
    parts = [stage, task_id] + [p for p in (run_id, salt) if p]
    digest = hashlib.sha256("".join(f"{p}|" for p in parts).encode("utf-8")).digest()
    return base36(int.from_bytes(digest[:12], "big")).rjust(16, "0")[:16]


@dataclass(frozen=True, slots=True)
class IdShape:
    kind: str  # deterministic | legacy | malformed
    prefix_stage: str | None = None  # the stage a deterministic prefix belongs to
    collision: int = 0
    reason: str = ""  # why an ID is malformed


# The shapes of well-formed IDs, made once: classify runs for every generation on every command.
_SHAPE_OF = {(prefix[0], k): IdShape(DETERMINISTIC, stage, int(k or 0))
             for prefix, stage in STAGE_OF_PREFIX.items() for k in (None, "1", "2", "3", "4")}
_LEGACY_SHAPE = IdShape(LEGACY)


def classify(gen_id: str) -> IdShape:
    """Deterministic, legacy or malformed, from the shape of the ID alone (DOMAIN 3.3)."""
    m = _DETERMINISTIC.match(gen_id)
    if m:
        prefix, digits, k = m.groups()
        if len(digits) == 16 and int(digits, 36) >= HASH_LIMIT:  # 15 digits never reach 2^80
            return IdShape(MALFORMED, reason="hash value is 2^80 or more")
        return _SHAPE_OF[prefix, k]
    if _LEGACY.match(gen_id):
        return _LEGACY_SHAPE
    return IdShape(MALFORMED, reason=_malformed_reason(gen_id))


def _malformed_reason(gen_id: str) -> str:
    if not gen_id:
        return "empty"
    if gen_id != gen_id.lower():
        return "upper-case characters"
    if re.match(r"^[dev]_0", gen_id):
        return "leading zero in the hash"
    if re.match(r"^[dev]_[0-9a-z]{17,}", gen_id):
        return "more than 16 hash digits"
    if not re.match(r"^[0-9a-z_-]+$", gen_id):
        return "characters outside [0-9a-z_-]"
    return "neither a deterministic nor a legacy ID"


# The length heuristic of the old migration guide, kept only to show where it goes wrong.
def length_heuristic_says_legacy(gen_id: str) -> bool:
    return len(gen_id) < 18


def short_id_probability() -> float:
    """P(a fresh deterministic ID is shorter than 18 characters) = P(hash < 36**15)."""
    return 36**15 / HASH_LIMIT


def replace_token(text: str, old: str, new: str) -> tuple[str, int]:
    """`text` with every whole `old` (not part of a longer run of ID characters) replaced by
    `new`, and how many there were.

    One precompiled pattern for every ID: a pattern per ID, compiled for each of thousands of
    renames, overflowed the regex cache and cost more than the replacing.
    """
    if old not in text:
        return text, 0
    if ID_TOKEN.fullmatch(old) is None:  # an odd (malformed) ID: bounded by a pattern of its own
        return re.subn(rf"(?<![0-9A-Za-z_-]){re.escape(old)}(?![0-9A-Za-z_-])", new, text)
    count = 0

    def swap(m: re.Match) -> str:
        nonlocal count
        if m.group() != old:
            return m.group()
        count += 1
        return new

    return ID_TOKEN.sub(swap, text), count
