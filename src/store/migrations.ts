/**
 * @module store/migrations
 * Versioned schema migrations, portable PostgreSQL SQL. Append only: never edit a shipped
 * migration, add the next one.
 */
export interface Migration { version: number; name: string; sql: string }

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'apps, environments, instances, store version',
    sql: `
      CREATE TABLE store_version (
        id smallint PRIMARY KEY CHECK (id = 1),
        version bigint NOT NULL
      );
      INSERT INTO store_version (id, version) VALUES (1, 0);

      CREATE TABLE apps (
        name text PRIMARY KEY,
        spec jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE environments (
        app text NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('base', 'preview')),
        parent text,
        overrides jsonb NOT NULL DEFAULT '{}'::jsonb,
        hosts jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app, name)
      );

      CREATE TABLE instances (
        app text NOT NULL,
        env text NOT NULL,
        service text NOT NULL,
        replica integer NOT NULL,
        host text NOT NULL,
        port integer NOT NULL,
        pid integer,
        state text NOT NULL,
        restarts integer NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app, env, service, replica),
        FOREIGN KEY (app, env) REFERENCES environments(app, name) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 2,
    name: 'router replicas and the version each serves',
    sql: `
      CREATE TABLE routers (
        id text PRIMARY KEY,
        url text NOT NULL,
        version bigint NOT NULL,
        seen_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 3,
    name: 'change log for delta snapshots',
    sql: `
      CREATE TABLE changes (
        version bigint NOT NULL,
        app text NOT NULL,
        env text
      );
      CREATE INDEX changes_app_version ON changes (app, version);
      ALTER TABLE store_version ADD COLUMN pruned_through bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 4,
    name: 'static site deploys and which one each environment serves',
    sql: `
      CREATE TABLE deploys (
        id text PRIMARY KEY,
        app text NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
        site text NOT NULL,
        env text NOT NULL,
        manifest jsonb NOT NULL,
        files integer NOT NULL,
        bytes bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX deploys_app_site_env ON deploys (app, site, env, created_at);
      CREATE TABLE site_deploys (
        app text NOT NULL,
        env text NOT NULL,
        site text NOT NULL,
        deploy_id text NOT NULL REFERENCES deploys(id),
        activated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app, env, site),
        FOREIGN KEY (app, env) REFERENCES environments(app, name) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 5,
    name: 'access policy per environment, secrets, admin tokens',
    sql: `
      ALTER TABLE environments ADD COLUMN access jsonb NOT NULL DEFAULT '{}'::jsonb;
      CREATE TABLE secrets (
        name text PRIMARY KEY,
        value text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE admin_tokens (
        id text PRIMARY KEY,
        hash text NOT NULL,
        name text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 6,
    name: 'certificates, ACME challenges and order status',
    sql: `
      CREATE TABLE certificates (
        id text PRIMARY KEY,
        hostnames jsonb NOT NULL,
        cert_pem text NOT NULL,
        key_pem text NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        source text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE certificate_names (
        name text PRIMARY KEY,
        certificate_id text NOT NULL REFERENCES certificates(id) ON DELETE CASCADE
      );
      CREATE TABLE acme_challenges (
        token text PRIMARY KEY,
        key_authorization text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE acme_status (
        host text PRIMARY KEY,
        status jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];
