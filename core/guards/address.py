"""Missing and invalid addresses, checked with a real validator before anything is sent.

E-mail addresses go through ``email-validator`` (syntax only: no DNS lookups at send
time), after a fast path for plain ASCII addresses it certainly accepts; phone numbers must look like E.164 once spaces, dashes, dots and brackets are
removed (``+86 138-0013-8000`` is fine, ``call me`` is not).
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

_PHONE_NOISE = re.compile(r"[\s\-.()/]")
_PHONE = re.compile(r"\+?[0-9]{6,15}")


# Plain ASCII addresses that email-validator certainly accepts: a dot-atom local part
# (no leading, trailing or double dots), LDH domain labels, a letter TLD that is not a
# special-use name. Everything else goes to the validator itself.
_PLAIN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})"
)
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test", "internal"})


def plainly_valid(address: str) -> bool:
    """True for the common case the validator would accept anyway (a fast path)."""
    match = _PLAIN.fullmatch(address)
    return (
        match is not None
        and len(address) <= 254
        and address.index("@") <= 64
        and match.group(1).lower() not in _SPECIAL_TLDS
    )


@lru_cache(maxsize=65536)
def email_problem(address: str) -> str | None:
    """Why ``address`` is not a deliverable e-mail address (None when it is fine)."""
    if plainly_valid(address):
        return None
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def normalize_phone(number: str) -> str:
    return _PHONE_NOISE.sub("", number)


def phone_problem(number: str) -> str | None:
    """Why ``number`` is not a phone number an SMS gateway accepts (None when fine)."""
    if _PHONE.fullmatch(normalize_phone(number)):
        return None
    return "expected digits in international format, such as +8613800138000"


def address_problem(field: str | None, address: str) -> str | None:
    """The suppression reason for an address in customer field ``field``, or None."""
    if field == "email":
        problem = email_problem(address)
        return None if problem is None else f"invalid email address: {problem}"
    if field == "phone":
        problem = phone_problem(address)
        return None if problem is None else f"invalid phone number: {problem}"
    return None


__all__ = ["address_problem", "email_problem", "normalize_phone", "phone_problem"]
