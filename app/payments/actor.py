"""Who acts through the dashboard: the signed-in user, named on the timeline entries of what they
do (issue 13: "writes a timeline entry with source ``dashboard`` and the user's id").

The dashboard sets :data:`acting_user` for each of its requests; :func:`app.payments.transitions.record`
adds it as ``data["user_id"]`` to entries whose source is ``dashboard``. Other sources never
read it, so a value left from an earlier request on the same thread changes nothing.
"""

from __future__ import annotations

from contextvars import ContextVar

#: The dashboard user acting in this request (``usr_…``), else None.
acting_user: ContextVar[str | None] = ContextVar("acting_user", default=None)
