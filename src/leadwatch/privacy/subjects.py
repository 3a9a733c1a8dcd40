"""Who a request is about, and finding their leads.

A subject is an e-mail address (normalised exactly as lead intake stores it, so the
lookup is an equality on the indexed column) and, optionally, a phone number,
matched on its digits: "+44 20 7946 0000" and "+44 (20) 7946-0000" are the same
number, "020 7946 0000" (national form) is not. The audit log keeps a keyed hash of
the address, never the address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from leadwatch.leads.form import normalize_email
from leadwatch.leads.models import Lead

# What an erased text field reads afterwards. It is no valid e-mail address and has
# no digits, so an erased lead never matches a subject again (erasure is idempotent).
ERASED = "[erased]"
MIN_PHONE_DIGITS = 5
# The instance secret keying subject hashes (RecordStore.instance_secret).
SUBJECT_KEY = "privacy_subject_key"
_NOT_DIGIT = re.compile(r"[^0-9]")


class SubjectError(ValueError):
    """Input that names no one; ``field`` is the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Subject:
    email: str  # normalised as lead intake stores it
    phone_digits: str | None = None
    site_id: str | None = None  # None: every site

    @classmethod
    def parse(cls, email: str, phone: str | None = None, site_id: str | None = None) -> Subject:
        try:
            normalised = normalize_email(email)
        except ValueError as exc:
            raise SubjectError("email", str(exc)) from None
        digits = None
        if phone is not None and phone.strip():
            digits = _NOT_DIGIT.sub("", phone)
            if len(digits) < MIN_PHONE_DIGITS:
                raise SubjectError("phone", f"needs at least {MIN_PHONE_DIGITS} digits")
        return cls(normalised, digits, site_id or None)

    def hash(self, key: bytes) -> str:
        """The keyed hash the audit log keeps instead of the address."""
        return hmac.new(key, b"privacy-subject:" + self.email.encode(), hashlib.sha256).hexdigest()

    def leads(self, session: Session) -> list[Lead]:
        """Every lead of the subject (rejected submissions too), oldest first."""
        matches = [Lead.email == self.email]
        if self.phone_digits:
            # LIKE over the digits in order is a superset of "same digits" that every
            # backend can run; the exact comparison is made below.
            matches.append(Lead.phone.like("%" + "%".join(self.phone_digits) + "%"))
        query = select(Lead).where(or_(*matches)).order_by(Lead.id)
        if self.site_id:
            query = query.where(Lead.site_id == self.site_id)
        return [lead for lead in session.scalars(query) if self._owns(lead)]

    def _owns(self, lead: Lead) -> bool:
        if lead.email == self.email:
            return True
        return self.phone_digits is not None and lead.phone is not None and (
            _NOT_DIGIT.sub("", lead.phone) == self.phone_digits)
