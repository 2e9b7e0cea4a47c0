//! The fleet store's schema, as the migrations that build it.

/// Schema migrations, applied in order; `yoi_schema.version` records how
/// many ran. Never edit a released step: add a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE versions (
        plugin       TEXT    NOT NULL,
        version      TEXT    NOT NULL,
        digest       TEXT    NOT NULL,
        manifest     TEXT    NOT NULL,
        state        TEXT    NOT NULL CHECK (state IN ('published', 'active', 'inactive', 'rolled_back')),
        scope        TEXT    NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        percent      INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
        published_at BIGINT  NOT NULL,
        published_by TEXT    NOT NULL,
        updated_at   BIGINT  NOT NULL,
        seq          BIGINT  NOT NULL UNIQUE,
        PRIMARY KEY (plugin, version)
    );
    -- At most one active version per plugin, enforced by the database itself.
    CREATE UNIQUE INDEX one_active ON versions (plugin) WHERE state = 'active';
    -- A published version keeps its digest and manifest for ever.
    CREATE FUNCTION yoi_version_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.plugin <> OLD.plugin OR NEW.version <> OLD.version OR NEW.digest <> OLD.digest
           OR NEW.manifest <> OLD.manifest OR NEW.published_at <> OLD.published_at
           OR NEW.published_by <> OLD.published_by OR NEW.seq <> OLD.seq THEN
            RAISE EXCEPTION 'published version %@% is immutable', OLD.plugin, OLD.version
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER version_immutable BEFORE UPDATE ON versions
        FOR EACH ROW EXECUTE FUNCTION yoi_version_immutable();
    -- Artifacts and audit records are never changed once written (audit
    -- records are never deleted either).
    CREATE FUNCTION yoi_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% rows are never changed (%)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$;
    CREATE TABLE artifacts (
        digest    TEXT   PRIMARY KEY CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
        bytes     BYTEA  NOT NULL,
        stored_at BIGINT NOT NULL
    );
    CREATE TRIGGER artifact_immutable BEFORE UPDATE ON artifacts
        FOR EACH ROW EXECUTE FUNCTION yoi_refuse_change();
    CREATE TABLE grants (
        plugin     TEXT    NOT NULL,
        capability TEXT    NOT NULL,
        granted    BOOLEAN NOT NULL,
        by_actor   TEXT    NOT NULL,
        at         BIGINT  NOT NULL,
        PRIMARY KEY (plugin, capability)
    );
    CREATE TABLE disabled (plugin TEXT PRIMARY KEY, reason TEXT NOT NULL);
    CREATE TABLE audit (
        id      BIGSERIAL PRIMARY KEY,
        at      BIGINT NOT NULL,
        actor   TEXT   NOT NULL,
        action  TEXT   NOT NULL,
        plugin  TEXT,
        version TEXT,
        outcome TEXT   NOT NULL CHECK (outcome IN ('ok', 'error')),
        reason  TEXT   NOT NULL
    );
    CREATE INDEX audit_plugin ON audit (plugin, id);
    CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION yoi_refuse_change();
    CREATE TABLE events (
        id      BIGSERIAL PRIMARY KEY,
        at      BIGINT NOT NULL,
        kind    TEXT   NOT NULL,
        plugin  TEXT   NOT NULL,
        version TEXT,
        host    TEXT,
        detail  JSONB  NOT NULL
    );
    CREATE INDEX events_plugin ON events (plugin, id);
    CREATE INDEX events_at ON events (at);
    CREATE INDEX events_kind ON events (kind, plugin, id);
    CREATE TABLE config (
        plugin  TEXT    NOT NULL,
        scope   TEXT    NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        key     TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        secret  BOOLEAN NOT NULL,
        set_by  TEXT    NOT NULL,
        set_at  BIGINT  NOT NULL,
        PRIMARY KEY (plugin, scope, key)
    );
    CREATE TABLE hosts (
        name       TEXT   PRIMARY KEY,
        scope      TEXT   NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        contract   TEXT   NOT NULL,
        engine     TEXT   NOT NULL,
        started_at BIGINT NOT NULL,
        last_seen  BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        loaded     JSONB  NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('change_seq', 0), ('version_seq', 0), ('host_seq', 0);",
    // 2: how each host runs plugins (safe mode, limits), as it reports it.
    "ALTER TABLE hosts ADD COLUMN posture JSONB;",
    // 3: remote MCP servers an operator declared, with their pinned tools.
    "CREATE TABLE mcp_servers (name TEXT PRIMARY KEY, record TEXT NOT NULL, token TEXT);",
    // 4: signatures and sources of versions; the trust policy.
    "ALTER TABLE versions ADD COLUMN provenance TEXT;
    CREATE TABLE trust (id INTEGER PRIMARY KEY CHECK (id = 1), policy TEXT NOT NULL);",
];
