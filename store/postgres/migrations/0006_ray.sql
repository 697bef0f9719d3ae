-- Ray placement: the scheduler asks workers to drain, and reports each
-- pool's replicas for the cluster view.
ALTER TABLE workers ADD COLUMN drain boolean NOT NULL DEFAULT false;

CREATE TABLE pools (
    name       text PRIMARY KEY,
    -- status is the scheduler's PoolStatus as JSON.
    status     jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);
