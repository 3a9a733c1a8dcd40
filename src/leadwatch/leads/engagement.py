"""Engagement: what a lead's visitor did on the site before submitting the form,
the input of the engagement factor (leadwatch.leads.scoring).

The link is the attribution token the snippet writes into the form: signed by this
installation, it lists the visitor's latest sessions (marketing.touch.SessionRef),
so it needs no cookie and survives the daily rotation of visitor keys. A session
live in this process is read from memory (exact to its last event: nothing waits in
a write buffer); the others come from the event store in one query by session id
(indexed on PostgreSQL). Events still in another replica's write buffer, at most
``storage.flush_interval_seconds`` old, are not seen. When no listed session is found
anywhere the answer is None: the neutral sub-score, never zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from leadwatch.leads.scoring import Engagement
from leadwatch.store.schema import utc_naive

if TYPE_CHECKING:
    from leadwatch.collect.sessions import Sessions
    from leadwatch.marketing.touch import SessionRef
    from leadwatch.store.events import EventStore

log = structlog.get_logger(__name__)

_TOTALS = """
SELECT count(DISTINCT session_id) AS sessions,
       coalesce(sum(CASE WHEN type = 'pageview' THEN 1 ELSE 0 END), 0) AS pages,
       coalesce(sum(CASE WHEN type = 'engagement' THEN value END), 0) AS seconds,
       coalesce(sum(CASE WHEN type = 'download' THEN 1 ELSE 0 END), 0) AS downloads
FROM events
WHERE site_id = :site AND session_id IN ({ids}) AND ts >= :since AND ts <= :until
"""


class EngagementReader:
    def __init__(self, sessions: Sessions, events: EventStore):
        self.sessions = sessions
        self.events = events

    def read(self, site_id: str, refs: Sequence[SessionRef], until: datetime) -> Engagement | None:
        """The visitor's engagement over the sessions ``refs`` up to ``until``, or None
        when none of them is known. Raises when the event store cannot answer."""
        seconds, pages, downloads, found = 0.0, 0, 0, 0
        stored: list[SessionRef] = []
        for ref in refs:
            live = self.sessions.find(site_id, ref.id)
            if live is None:
                stored.append(ref)
                continue
            seconds += live.active_seconds
            pages += live.pageviews
            downloads += live.downloads
            found += 1
        if stored:
            totals = self._stored(site_id, stored, until)
            seconds += float(totals["seconds"])
            pages += int(totals["pages"])
            downloads += int(totals["downloads"])
            found += int(totals["sessions"])
        if not found:
            return None
        # Milliseconds, as the snippet measures: the breakdown keeps exactly what was scored.
        return Engagement(round(seconds, 3), pages, downloads, found)

    def _stored(self, site_id: str, refs: list[SessionRef], until: datetime) -> dict[str, float]:
        ids = {f"s{n}": ref.id for n, ref in enumerate(refs)}
        # No event of a session is older than its start: DuckDB's zone maps then skip
        # every older row group (events are appended in time order).
        since = datetime.fromtimestamp(min(ref.started for ref in refs), UTC)
        sql = _TOTALS.format(ids=", ".join(f":{name}" for name in ids))
        (row,) = self.events.query(sql, {"site": site_id, "since": utc_naive(since),
                                         "until": utc_naive(until), **ids})
        return row
