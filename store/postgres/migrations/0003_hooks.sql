-- WebAssembly hooks, invocations refused by them, and routing priority.

CREATE TABLE hooks (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    sha256      text NOT NULL,
    module      bytea NOT NULL,
    global      boolean NOT NULL DEFAULT false,
    owner_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE invocations DROP CONSTRAINT invocations_status_check;
ALTER TABLE invocations ADD CONSTRAINT invocations_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled', 'dead', 'rejected'));
ALTER TABLE invocations ADD COLUMN priority integer NOT NULL DEFAULT 0;
