-- A worker whose container engine does not answer takes no tasks and says
-- why in its heartbeat.
ALTER TABLE workers ADD COLUMN paused text NOT NULL DEFAULT '';
