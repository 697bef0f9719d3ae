-- An invocation that waits in its queue past its version's queue_timeout_s
-- ends 'expired'.
ALTER TABLE invocations DROP CONSTRAINT invocations_status_check;
ALTER TABLE invocations ADD CONSTRAINT invocations_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled', 'dead', 'rejected', 'expired'));
