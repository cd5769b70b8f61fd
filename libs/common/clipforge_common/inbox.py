"""The inbox: remember which events a consumer group has applied, in the same transaction."""

from __future__ import annotations

import asyncpg

from clipforge_common.envelope import Envelope


async def claim_event(conn: asyncpg.Connection, consumer_group: str, envelope: Envelope) -> bool:
    """Record the event as processed; False when this group already processed it (skip it).

    Must run inside the transaction that applies the event's state change, so the mark and the
    change commit or roll back together.
    """
    inserted = await conn.fetchval(
        """INSERT INTO processed_events (consumer_group, event_id, event_type) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING 1""",
        consumer_group,
        envelope.event_id,
        envelope.event_type,
    )
    return inserted is not None
