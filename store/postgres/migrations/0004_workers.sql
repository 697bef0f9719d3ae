-- Workers report themselves alive; their warm containers outlive them only
-- until another worker sees their heartbeats stop.
CREATE TABLE workers (
    id           text PRIMARY KEY,
    node         text NOT NULL,
    pool         text NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
