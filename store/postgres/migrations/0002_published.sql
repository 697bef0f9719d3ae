-- published_at is set once the broker confirmed an invocation's task, so
-- that rows left unqueued by a gateway that died between insert and publish
-- can be found and queued again.
ALTER TABLE invocations ADD COLUMN published_at timestamptz;
UPDATE invocations SET published_at = created_at;
CREATE INDEX invocations_unpublished ON invocations (created_at) WHERE published_at IS NULL AND status = 'queued';
