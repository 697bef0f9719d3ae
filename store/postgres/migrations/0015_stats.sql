-- Workers say how many warm containers they keep.
ALTER TABLE workers ADD COLUMN warm integer NOT NULL DEFAULT 0;

-- A sample a minute of each pool, for the console's charts: the most
-- tasks in its queue, live workers and warm containers that the gateways
-- saw in that minute. A day is kept.
CREATE TABLE pool_samples (
    at      timestamptz NOT NULL,
    pool    text NOT NULL,
    queued  integer NOT NULL,
    workers integer NOT NULL,
    warm    integer NOT NULL,
    PRIMARY KEY (at, pool)
);
