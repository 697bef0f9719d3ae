-- invocation_attempts keeps who ran each attempt at an invocation: the
-- worker and node, and when it started. A row is written in the statement
-- that starts the attempt (or, for a short warm call, commits its result);
-- the latest attempt's end is the invocation's own (finished_at, status,
-- error), so finishing writes nothing here. Only an attempt that ended
-- without committing a result, but lived to say why, records its end.
CREATE TABLE invocation_attempts (
    invocation_id uuid NOT NULL REFERENCES invocations (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    worker        text NOT NULL,
    node          text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    error_code    text,
    error_message text,
    PRIMARY KEY (invocation_id, attempt)
);

-- retry_of links a retry (POST /api/v1/invocations/{id}/retry) to the
-- invocation it retried. No foreign key: it would cost every delete of an
-- invocation a look-up, and the link is informative.
ALTER TABLE invocations ADD COLUMN retry_of uuid;

-- The dead-letter list: dead invocations an operator has not redriven or
-- discarded (dead_listed), with the broker's reason, its delivery count and
-- when they died. redrives counts the redrives; tasks carry it, so that a
-- late copy of an earlier dead letter cannot kill a redriven invocation.
ALTER TABLE invocations ADD COLUMN redrives integer NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN dead_reason text;
ALTER TABLE invocations ADD COLUMN dead_deliveries integer;
ALTER TABLE invocations ADD COLUMN dead_at timestamptz;
ALTER TABLE invocations ADD COLUMN dead_listed boolean NOT NULL DEFAULT false;

-- The invocations already dead are dead letters; their reason was kept
-- only at the end of their error message.
UPDATE invocations SET dead_listed = true, dead_at = coalesce(finished_at, created_at),
    dead_reason = coalesce(substring(error_message FROM '\(([a-z_]+)\)$'), 'unknown')
WHERE status = 'dead';

CREATE INDEX invocations_dead_letters ON invocations (dead_at DESC, id DESC) WHERE dead_listed;

-- redriven_at is when a dead letter was last redriven: its row is queued
-- again before its task is, and the sweep of unqueued rows waits as long
-- for it as for a new one, rather than queue it a second time.
ALTER TABLE invocations ADD COLUMN redriven_at timestamptz;
