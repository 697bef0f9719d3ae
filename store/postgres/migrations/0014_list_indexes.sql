-- Indexes for the invocation list's filters, measured with 100,000 rows
-- over 12 plugins and 25 owners (EXPLAIN ANALYZE, a page of 51):
--
-- invocations_plugin_version_created serves ?plugin=&version=. Without
-- it the planner walks invocations_created and filters: 16 to 43 ms for
-- the oldest of three versions (66,754 rows read and dropped), and growing
-- with the table; with it, 0.1 to 0.2 ms. (ListInvocations writes the
-- version so that the planner cannot prefer invocations_created.)
--
-- invocations_owner_plugin_created serves a developer's ?plugin= (a
-- non-admin's list is always their own). Without it PostgreSQL ANDs the
-- bitmaps of the owner's rows and of the plugin's rows of every owner:
-- 3.6 ms when the plugin has 4,200 rows, 11 ms with a status filter on
-- one of 29,000, and growing with everyone's use of the plugin; with it,
-- the owner's rows of that plugin only (0.3 ms to 6 ms).
--
-- A time window (since, until) is a range on created_at, the column after
-- the equalities in every list index, so it needs none of its own.
CREATE INDEX invocations_plugin_version_created ON invocations (plugin, version, created_at DESC, id DESC);
CREATE INDEX invocations_owner_plugin_created ON invocations (owner_id, plugin, created_at DESC, id DESC);
