-- dropped_tasks records the tasks that a worker dropped because their
-- invocation was not recorded (yet): a gateway records a synchronous call
-- while it queues it, and an insert that commits after the worker gave up
-- would otherwise leave the invocation queued with no task. The sweep
-- (UnpublishedInvocations) queues such invocations again.
CREATE TABLE dropped_tasks (
    invocation_id uuid PRIMARY KEY,
    dropped_at    timestamptz NOT NULL
);
