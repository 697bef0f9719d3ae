-- Each worker reports its container driver (name, version, health,
-- detail), and each invocation records the driver its result came from.
ALTER TABLE workers ADD COLUMN driver jsonb;
ALTER TABLE invocations ADD COLUMN driver text NOT NULL DEFAULT '';
