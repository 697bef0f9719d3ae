-- ray_tasks carries the task of a ray-job invocation (its input, the
-- version's environment) to the job's entrypoint on its node, and the
-- result back: Ray's job records, which its dashboard shows to anyone who
-- reaches it, hold only the invocation's id and attempt.
CREATE TABLE ray_tasks (
    invocation_id uuid NOT NULL,
    attempt       integer NOT NULL,
    spec          bytea NOT NULL,
    result        bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invocation_id, attempt)
);
CREATE INDEX ray_tasks_created ON ray_tasks (created_at);
