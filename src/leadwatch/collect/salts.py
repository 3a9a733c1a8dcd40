"""Daily salts: the random key of each day's visitor hashes, rotated and deleted.

A visitor key is a keyed hash of (site, IP, user agent) under the current UTC day's
salt. Yesterday's salt is deleted once the day is over, so nobody (leadwatch
included) can recompute yesterday's keys from an IP address: the same person is a
new visitor each day, and no raw IP is ever stored. Replicas share the salt through
the record store (the first one to create a day's salt wins).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from leadwatch.background import PeriodicService
from leadwatch.store.models import Base, UTCDateTime, now

if TYPE_CHECKING:
    from leadwatch.store.records import RecordStore


class VisitorSalt(Base):
    """One UTC day's salt for visitor keys; deleted when the day is over."""

    __tablename__ = "visitor_salts"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class DailySalts:
    """The salt of a day, from memory; the record store is asked once per day."""

    def __init__(self, records: RecordStore):
        self._records = records
        self._lock = threading.Lock()
        self._day: str | None = None
        self._salt = b""

    def cached(self, day: date) -> bool:
        return day.isoformat() == self._day

    def salt(self, day: date) -> bytes:
        key = day.isoformat()
        if key == self._day:
            return self._salt
        with self._lock:
            if key != self._day:
                self._salt, self._day = self._load(key), key
            return self._salt

    def _load(self, day: str) -> bytes:
        self.forget_before(day)
        with self._records.session() as session:
            found = session.get(VisitorSalt, day)
            if found is not None:
                return bytes.fromhex(found.salt)
        try:
            with self._records.session() as session:
                session.add(VisitorSalt(day=day, salt=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another replica created it first; use theirs
        with self._records.session() as session:
            return bytes.fromhex(session.get_one(VisitorSalt, day).salt)

    def forget_before(self, day: str) -> int:
        """Delete the salts of days before ``day``; their visitor keys become unlinkable."""
        with self._records.session() as session:
            result = session.execute(delete(VisitorSalt).where(VisitorSalt.day < day))
            return int(result.rowcount or 0)


def visitor_key(salt: bytes, site_id: str, ip: str, user_agent: str) -> str:
    """16 hex characters: enough to tell a day's visitors apart, useless to reverse."""
    data = f"{site_id}\x00{ip}\x00{user_agent}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, key=salt[:64], digest_size=8).hexdigest()


class SaltRotation(PeriodicService):
    """A service that moves to each new UTC day's salt soon after midnight, deleting
    the old one even when no visitor comes (and so requests rarely wait for it)."""

    name = "salt-rotation"
    run_first = True
    failure_event = "salt_rotation_failed"
    failure_level = "warning"  # the store may be down a moment; the next round retries

    def __init__(self, salts: DailySalts, check_every: float = 30.0):
        super().__init__()
        self.salts = salts
        self.interval = check_every

    def tick(self) -> None:
        self.salts.salt(datetime.now(UTC).date())
