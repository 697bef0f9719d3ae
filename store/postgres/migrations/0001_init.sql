-- Users, sign-in tokens, plugins, versions, invocations and their logs.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('admin', 'developer', 'invoker', 'viewer')),
    password_hash text,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE auth_tokens (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX auth_tokens_expires_at ON auth_tokens (expires_at);

CREATE TABLE plugins (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    description    text NOT NULL DEFAULT '',
    owner_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    public         boolean NOT NULL DEFAULT false,
    latest_version text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plugin_versions (
    id            bigserial PRIMARY KEY,
    plugin_id     bigint NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    version       text NOT NULL,
    description   text NOT NULL DEFAULT '',
    image         text NOT NULL,
    protocol      text NOT NULL,
    input_schema  jsonb,
    output_schema jsonb,
    -- spec holds the rest of the version (resources, limits, pool, hooks...)
    -- as the API's JSON, so that new fields need no migration.
    spec          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (plugin_id, version)
);

CREATE TABLE invocations (
    id              uuid PRIMARY KEY,
    plugin          text NOT NULL,
    version         text NOT NULL,
    version_id      bigint REFERENCES plugin_versions (id) ON DELETE SET NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled', 'dead')),
    -- json, not jsonb: the plugin gets its input byte for byte.
    input           json NOT NULL,
    output          json,
    error_code      text,
    error_message   text,
    attempts        integer NOT NULL DEFAULT 0,
    idempotency_key text,
    owner_id        bigint NOT NULL REFERENCES users (id),
    async           boolean NOT NULL DEFAULT false,
    pool            text NOT NULL,
    worker          text NOT NULL DEFAULT '',
    node            text NOT NULL DEFAULT '',
    cold_start      boolean NOT NULL DEFAULT false,
    queue_ms        double precision NOT NULL DEFAULT 0,
    cold_ms         double precision NOT NULL DEFAULT 0,
    run_ms          double precision NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE UNIQUE INDEX invocations_idempotency ON invocations (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX invocations_created ON invocations (created_at DESC, id DESC);
CREATE INDEX invocations_owner_created ON invocations (owner_id, created_at DESC, id DESC);
CREATE INDEX invocations_plugin_created ON invocations (plugin, created_at DESC, id DESC);
CREATE INDEX invocations_unfinished ON invocations (status) WHERE status IN ('queued', 'running');

CREATE TABLE invocation_logs (
    invocation_id uuid NOT NULL REFERENCES invocations (id) ON DELETE CASCADE,
    seq           integer NOT NULL,
    attempt       integer NOT NULL,
    stream        text NOT NULL,
    at            timestamptz NOT NULL,
    line          text NOT NULL,
    PRIMARY KEY (invocation_id, seq)
);
