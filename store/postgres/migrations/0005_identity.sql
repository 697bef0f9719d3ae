-- Identity: single sign-on links and sessions, API keys, the audit log, and
-- the index that counts a user's unfinished invocations for the in-flight cap.

-- An account signed in through an OpenID provider is linked to it by the
-- token's issuer and subject (an e-mail address can change hands).
ALTER TABLE users ADD COLUMN oidc_issuer text;
ALTER TABLE users ADD COLUMN oidc_subject text;
-- role_pinned: an admin set the role, so the provider's groups no longer do.
ALTER TABLE users ADD COLUMN role_pinned boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN last_login_at timestamptz;
CREATE UNIQUE INDEX users_oidc_key ON users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;

-- How a token's holder signed in (token: a password; oidc: single sign-on),
-- and whether it is a browser session (a cookie, which needs CSRF checks).
ALTER TABLE auth_tokens ADD COLUMN method text NOT NULL DEFAULT 'token';
ALTER TABLE auth_tokens ADD COLUMN session boolean NOT NULL DEFAULT false;

-- Sign-ins under way: created by /auth/login, taken by /auth/callback.
CREATE TABLE sso_states (
    state        text PRIMARY KEY,
    binding_hash bytea NOT NULL,  -- sha256 of the browser's binding cookie
    nonce        text NOT NULL,
    verifier     text NOT NULL,   -- PKCE verifier towards the provider
    return_to    text NOT NULL DEFAULT '',
    cli_redirect text NOT NULL DEFAULT '',
    cli_challenge text NOT NULL DEFAULT '',
    cli_state    text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sso_states_expires_at ON sso_states (expires_at);

-- One-time codes handed to the CLI's loopback listener, exchanged (with the
-- CLI's PKCE verifier) for a token at /api/v1/auth/token.
CREATE TABLE sso_codes (
    code_hash    bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri text NOT NULL,
    challenge    text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sso_codes_expires_at ON sso_codes (expires_at);

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    prefix       text NOT NULL UNIQUE,
    key_hash     bytea NOT NULL,
    -- role, when set, narrows the owner's role for requests with this key.
    role         text CHECK (role IN ('admin', 'developer', 'invoker', 'viewer')),
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint,          -- kept when the user is deleted
    actor_email text NOT NULL DEFAULT '',
    method      text NOT NULL DEFAULT '',
    action      text NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target      text NOT NULL DEFAULT '',
    details     jsonb,
    remote_addr text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at DESC, id DESC);

CREATE INDEX invocations_owner_unfinished ON invocations (owner_id) WHERE status IN ('queued', 'running');
