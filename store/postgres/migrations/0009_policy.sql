-- policy holds the installation's policy (docs/policy.md) as one document;
-- without a row, orc.DefaultPolicy is in force.
CREATE TABLE policy (
    id         integer PRIMARY KEY CHECK (id = 1),
    doc        jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint REFERENCES users (id) ON DELETE SET NULL
);

-- pool_owners records who registered the first version of each pool that
-- the policy does not share: only they (and admins) may use it.
CREATE TABLE pool_owners (
    pool       text PRIMARY KEY,
    owner_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
-- Pools already in use belong to the owner of their oldest version.
INSERT INTO pool_owners (pool, owner_id)
SELECT DISTINCT ON (v.spec->>'pool') v.spec->>'pool', p.owner_id
FROM plugin_versions v JOIN plugins p ON p.id = v.plugin_id
WHERE v.spec->>'pool' IS NOT NULL AND v.spec->>'pool' NOT IN ('default', 'ray-job') AND p.owner_id IS NOT NULL
ORDER BY v.spec->>'pool', v.created_at;
CREATE INDEX plugin_versions_image ON plugin_versions (image);
