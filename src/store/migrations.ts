/**
 * Versioned schema migrations, one list for both databases: each migration is SQL
 * written once against a few dialect-specific type names. Applied at open, in order,
 * each in the same transaction as its row in `schema_migrations`, so running them
 * again (or from two processes at once) changes nothing.
 */
import type { Executor } from "./executor.ts";
import type { Dialect } from "./types.ts";

interface Types {
  /** Keys compared and sorted byte-wise in both databases (PostgreSQL's default collation is the locale's). */
  key: string;
  big: string;
  /** An auto-increasing 64-bit primary key. */
  serial: string;
  json: string;
  bool: string;
  /** Clustered primary key where the database has the choice. */
  clustered: string;
}

const TYPES: Record<Dialect, Types> = {
  sqlite: {
    key: "TEXT",
    big: "INTEGER",
    serial: "INTEGER PRIMARY KEY",
    json: "TEXT",
    bool: "INTEGER",
    clustered: "WITHOUT ROWID",
  },
  postgres: {
    key: 'TEXT COLLATE "C"',
    big: "BIGINT",
    serial: "BIGSERIAL PRIMARY KEY",
    json: "JSONB",
    bool: "BOOLEAN",
    clustered: "",
  },
};

/**
 * The contact journal (docs/storage.md, "The contact journal"): which contacts had their
 * row or their events changed, numbered by a `seq` that is never reused, so that an engine
 * restored from a snapshot at a position re-reads only the contacts journaled after it.
 * Triggers fill it, so no write path can forget to. SQLite's triggers run per row;
 * PostgreSQL's per statement over transition tables, so a batch of 10,000 contacts adds
 * one INSERT … SELECT. Any update of an event journals its contact, before and after.
 *
 * SQLite also guards `events.seq`: an INTEGER PRIMARY KEY without AUTOINCREMENT takes
 * max + 1, so deleting the newest events would hand their numbers to the next ones, at or
 * below a snapshot's position. When the deleted row was above every remaining one, a
 * placeholder row keeps its number, in workspace '' (which `store.workspace` refuses and
 * `createWorkspace` rejects, so no read of a workspace sees it); only the newest
 * placeholder is kept. PostgreSQL's sequences never go back.
 */
const JOURNAL_TABLE = (t: Types, seq: string) => `
CREATE TABLE contact_journal (
  seq ${seq},
  workspace_id ${t.key} NOT NULL,
  contact_id ${t.key} NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('row', 'erased', 'events'))
);
CREATE INDEX contact_journal_workspace_seq ON contact_journal (workspace_id, seq);
`;

const JOURNAL_INSERT = "INSERT INTO contact_journal (workspace_id, contact_id, kind)";

/**
 * A contact whose key changes (no write path of the store does it) is the old one erased.
 * A trigger of its own, on those columns only, so that upserts, which never set them, do
 * not even consider it.
 */
const REKEY = `AFTER UPDATE OF workspace_id, id ON contacts
  FOR EACH ROW WHEN (OLD.workspace_id <> NEW.workspace_id OR OLD.id <> NEW.id)`;

const SQLITE_JOURNAL = `${JOURNAL_TABLE(TYPES.sqlite, "INTEGER PRIMARY KEY AUTOINCREMENT")}
CREATE TRIGGER contact_journal_contacts_insert AFTER INSERT ON contacts BEGIN
  ${JOURNAL_INSERT} VALUES (NEW.workspace_id, NEW.id, 'row');
END;
CREATE TRIGGER contact_journal_contacts_update AFTER UPDATE ON contacts BEGIN
  ${JOURNAL_INSERT} VALUES (NEW.workspace_id, NEW.id, 'row');
END;
CREATE TRIGGER contact_journal_contacts_rekey ${REKEY} BEGIN
  ${JOURNAL_INSERT} VALUES (OLD.workspace_id, OLD.id, 'erased');
END;
CREATE TRIGGER contact_journal_contacts_delete AFTER DELETE ON contacts BEGIN
  ${JOURNAL_INSERT} VALUES (OLD.workspace_id, OLD.id, 'erased');
END;
CREATE TRIGGER contact_journal_events_update AFTER UPDATE ON events BEGIN
  ${JOURNAL_INSERT} VALUES (OLD.workspace_id, OLD.contact_id, 'events');
  ${JOURNAL_INSERT} SELECT NEW.workspace_id, NEW.contact_id, 'events'
    WHERE NEW.workspace_id <> OLD.workspace_id OR NEW.contact_id <> OLD.contact_id;
END;
CREATE TRIGGER contact_journal_events_delete AFTER DELETE ON events WHEN OLD.workspace_id <> '' BEGIN
  ${JOURNAL_INSERT} VALUES (OLD.workspace_id, OLD.contact_id, 'events');
END;
CREATE TRIGGER events_seq_floor AFTER DELETE ON events
WHEN OLD.seq > (SELECT coalesce(max(seq), 0) FROM events) BEGIN
  INSERT INTO events (seq, workspace_id, type, contact_id, ts, properties, received_at)
    VALUES (OLD.seq, '', '', '', 0, '{}', 0);
  DELETE FROM events WHERE workspace_id = '' AND seq < OLD.seq;
END;
`;

/** A trigger function that journals one SELECT over the statement's transition tables. */
const pgJournalFunction = (name: string, select: string) => `
CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  ${JOURNAL_INSERT} ${select};
  RETURN NULL;
END
$$;`;

// A trigger with transition tables takes one event and no column list (PostgreSQL's
// rule), hence one trigger per event; the rare key change is a row trigger. No join of
// the old and new transition tables: they have no statistics, and the planner's guess
// made such a join quadratic on a batch of 10,000.
const POSTGRES_JOURNAL = `${JOURNAL_TABLE(TYPES.postgres, "BIGSERIAL PRIMARY KEY")}
${pgJournalFunction("contact_journal_rows", "SELECT DISTINCT workspace_id, id, 'row' FROM new_rows")}
${pgJournalFunction("contact_journal_erased", "SELECT DISTINCT workspace_id, id, 'erased' FROM old_rows")}
${pgJournalFunction(
  "contact_journal_events_updated",
  `SELECT workspace_id, contact_id, 'events' FROM old_rows
    UNION SELECT workspace_id, contact_id, 'events' FROM new_rows`,
)}
${pgJournalFunction(
  "contact_journal_events_deleted",
  "SELECT DISTINCT workspace_id, contact_id, 'events' FROM old_rows",
)}
CREATE FUNCTION contact_journal_rekeyed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  ${JOURNAL_INSERT} VALUES (OLD.workspace_id, OLD.id, 'erased');
  RETURN NULL;
END
$$;
CREATE TRIGGER contact_journal_contacts_insert AFTER INSERT ON contacts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_journal_rows();
CREATE TRIGGER contact_journal_contacts_update AFTER UPDATE ON contacts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_journal_rows();
CREATE TRIGGER contact_journal_contacts_rekey ${REKEY}
  EXECUTE FUNCTION contact_journal_rekeyed();
CREATE TRIGGER contact_journal_contacts_delete AFTER DELETE ON contacts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_journal_erased();
CREATE TRIGGER contact_journal_events_update AFTER UPDATE ON events
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_journal_events_updated();
CREATE TRIGGER contact_journal_events_delete AFTER DELETE ON events
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_journal_events_deleted();
`;

export interface Migration {
  version: number;
  name: string;
  sql(d: Dialect): string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    sql: (d) => {
      const t = TYPES[d];
      return `
CREATE TABLE workspaces (
  id ${t.key} PRIMARY KEY,
  name TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  settings ${t.json} NOT NULL,
  created_at ${t.big} NOT NULL
);

CREATE TABLE api_keys (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  admin ${t.bool} NOT NULL,
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX api_keys_secret_uq ON api_keys (secret_hash);

CREATE TABLE fields (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key ${t.key} NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('string', 'number', 'boolean', 'date', 'string_list')),
  label TEXT NOT NULL,
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, key)
);

CREATE TABLE contacts (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  email ${t.key},
  external_id ${t.key},
  phone TEXT,
  first_name TEXT,
  last_name TEXT,
  country TEXT,
  region TEXT,
  city TEXT,
  postal_code TEXT,
  timezone TEXT,
  language TEXT,
  status TEXT,
  email_status TEXT,
  tags ${t.json} NOT NULL,
  custom ${t.json} NOT NULL,
  created_at ${t.big} NOT NULL,
  subscribed_at ${t.big},
  status_written_at ${t.big},
  email_status_written_at ${t.big},
  updated_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, id)
) ${t.clustered};
CREATE UNIQUE INDEX contacts_email_uq ON contacts (workspace_id, email);
CREATE UNIQUE INDEX contacts_external_id_uq ON contacts (workspace_id, external_id);

CREATE TABLE events (
  seq ${t.serial},
  workspace_id ${t.key} NOT NULL,
  idem_key ${t.key},
  type TEXT NOT NULL,
  contact_id ${t.key} NOT NULL,
  ts ${t.big} NOT NULL,
  properties ${t.json} NOT NULL,
  received_at ${t.big} NOT NULL
);
CREATE UNIQUE INDEX events_idem_key_uq ON events (workspace_id, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX events_workspace_seq ON events (workspace_id, seq);
${
  // A contact's events, for its timeline and erasure. Not on SQLite: events of a million
  // contacts arrive in no contact order, so each insert would rewrite a page of this
  // index in the WAL, which cuts ingest several times (docs/storage.md). SQLite scans.
  d === "postgres" ? "CREATE INDEX events_contact_ts ON events (workspace_id, contact_id, ts);" : ""
}

CREATE TABLE segments (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('dynamic', 'static')),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  rule ${t.json},
  version INTEGER NOT NULL,
  created_at ${t.big} NOT NULL,
  updated_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE segment_versions (
  workspace_id ${t.key} NOT NULL,
  segment_id ${t.key} NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  rule ${t.json},
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, segment_id, version),
  FOREIGN KEY (workspace_id, segment_id) REFERENCES segments (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE segment_members (
  workspace_id ${t.key} NOT NULL,
  segment_id ${t.key} NOT NULL,
  contact_id ${t.key} NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('added', 'removed')),
  expires_at ${t.big},
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, segment_id, contact_id),
  FOREIGN KEY (workspace_id, segment_id) REFERENCES segments (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX segment_members_contact ON segment_members (workspace_id, contact_id);
CREATE INDEX segment_members_expiry ON segment_members (workspace_id, expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE changes (
  seq ${t.serial},
  workspace_id ${t.key} NOT NULL,
  segment_id ${t.key} NOT NULL,
  contact_id ${t.key} NOT NULL,
  change TEXT NOT NULL CHECK (change IN ('entered', 'exited')),
  at ${t.big} NOT NULL
);
CREATE INDEX changes_segment_seq ON changes (workspace_id, segment_id, seq);
CREATE INDEX changes_segment_at ON changes (workspace_id, segment_id, at);
CREATE INDEX changes_segment_contact ON changes (workspace_id, segment_id, contact_id, at, seq);

CREATE TABLE webhooks (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  url TEXT NOT NULL,
  events ${t.json} NOT NULL,
  segment_id ${t.key},
  secret TEXT NOT NULL,
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE deliveries (
  id ${t.serial},
  workspace_id ${t.key} NOT NULL,
  webhook_id ${t.key} NOT NULL,
  change_seq ${t.big} NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL,
  next_attempt_at ${t.big},
  last_error TEXT,
  last_status_code INTEGER,
  created_at ${t.big} NOT NULL,
  updated_at ${t.big} NOT NULL,
  delivered_at ${t.big},
  FOREIGN KEY (workspace_id, webhook_id) REFERENCES webhooks (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX deliveries_change_uq ON deliveries (workspace_id, webhook_id, change_seq);
CREATE INDEX deliveries_due ON deliveries (workspace_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook ON deliveries (workspace_id, webhook_id, id);

CREATE TABLE imports (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('contacts', 'events')),
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
  options ${t.json} NOT NULL,
  total ${t.big},
  processed ${t.big} NOT NULL,
  accepted ${t.big} NOT NULL,
  rejected ${t.big} NOT NULL,
  errors ${t.json} NOT NULL,
  errors_dropped ${t.big} NOT NULL,
  failure TEXT,
  created_at ${t.big} NOT NULL,
  updated_at ${t.big} NOT NULL,
  finished_at ${t.big},
  PRIMARY KEY (workspace_id, id)
);
`;
    },
  },
  {
    version: 2,
    name: "change log: latest change per contact",
    // "Who is in now" looks for a later change of the same contact; without this index
    // SQLite, lacking statistics, walked the segment's whole log for every row.
    sql: () =>
      "CREATE INDEX changes_segment_contact_seq ON changes (workspace_id, segment_id, contact_id, seq);",
  },
  {
    version: 3,
    name: "key roles, anonymous identities, sending-platform receivers",
    sql: (d) => {
      const t = TYPES[d];
      return `
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'read_write'
  CHECK (role IN ('admin', 'read_write', 'read_only', 'ingest'));
UPDATE api_keys SET role = 'admin' WHERE admin = ${d === "postgres" ? "TRUE" : "1"};

CREATE TABLE identities (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  anonymous_id ${t.key} NOT NULL,
  contact_id ${t.key} NOT NULL,
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, anonymous_id)
) ${t.clustered};
CREATE INDEX identities_contact ON identities (workspace_id, contact_id);

CREATE TABLE receivers (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  provider TEXT NOT NULL,
  name TEXT NOT NULL,
  config ${t.json} NOT NULL,
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX receivers_id_uq ON receivers (id);
`;
    },
  },
  {
    version: 4,
    name: "destinations and scheduled exports",
    sql: (d) => {
      const t = TYPES[d];
      return `
CREATE TABLE destinations (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  segment_id ${t.key} NOT NULL,
  config ${t.json} NOT NULL,
  secrets TEXT NOT NULL,
  connector_state ${t.json} NOT NULL,
  state TEXT NOT NULL,
  full_done ${t.bool} NOT NULL,
  full_seq ${t.big},
  full_cursor ${t.key},
  cursor ${t.big} NOT NULL,
  failures INTEGER NOT NULL,
  next_attempt_at ${t.big},
  last_sync_at ${t.big},
  last_error TEXT,
  stats ${t.json} NOT NULL,
  created_at ${t.big} NOT NULL,
  updated_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE destination_members (
  workspace_id ${t.key} NOT NULL,
  destination_id ${t.key} NOT NULL,
  contact_id ${t.key} NOT NULL,
  remote_key TEXT NOT NULL,
  synced_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, destination_id, contact_id),
  FOREIGN KEY (workspace_id, destination_id) REFERENCES destinations (workspace_id, id) ON DELETE CASCADE
) ${t.clustered};

CREATE TABLE destination_runs (
  workspace_id ${t.key} NOT NULL,
  id ${t.key} NOT NULL,
  destination_id ${t.key} NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  from_seq ${t.big},
  to_seq ${t.big},
  added INTEGER NOT NULL,
  removed INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  skipped INTEGER NOT NULL,
  stats ${t.json} NOT NULL,
  error TEXT,
  started_at ${t.big} NOT NULL,
  finished_at ${t.big},
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, destination_id) REFERENCES destinations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX destination_runs_by_destination ON destination_runs (workspace_id, destination_id, started_at);

CREATE TABLE destination_outcomes (
  workspace_id ${t.key} NOT NULL,
  run_id ${t.key} NOT NULL,
  contact_id ${t.key} NOT NULL,
  op TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, run_id, contact_id, op),
  FOREIGN KEY (workspace_id, run_id) REFERENCES destination_runs (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX destination_outcomes_at ON destination_outcomes (workspace_id, at);

CREATE TABLE export_schedules (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id ${t.key} NOT NULL,
  name TEXT NOT NULL,
  segment_id ${t.key} NOT NULL,
  format TEXT NOT NULL,
  options ${t.json} NOT NULL,
  cron TEXT NOT NULL,
  target ${t.json} NOT NULL,
  secrets TEXT NOT NULL,
  state TEXT NOT NULL,
  next_run_at ${t.big},
  last_run_at ${t.big},
  created_at ${t.big} NOT NULL,
  updated_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE export_runs (
  workspace_id ${t.key} NOT NULL,
  id ${t.key} NOT NULL,
  schedule_id ${t.key} NOT NULL,
  state TEXT NOT NULL,
  scheduled_for ${t.big} NOT NULL,
  started_at ${t.big} NOT NULL,
  finished_at ${t.big},
  rows_written INTEGER NOT NULL,
  bytes_written ${t.big} NOT NULL,
  location TEXT,
  error TEXT,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, schedule_id) REFERENCES export_schedules (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX export_runs_slot ON export_runs (workspace_id, schedule_id, scheduled_for);
`;
    },
  },
  {
    version: 5,
    name: "webhooks: secret rotation, test events and redeliveries",
    sql: (d) => {
      const t = TYPES[d];
      // Deliveries with a fixed body (webhook.test, redeliveries) may repeat a change, or
      // have none (change_seq 0, as NOT NULL cannot be dropped in SQLite without a copy):
      // only deliveries built from the change log stay unique per (webhook, change).
      return `
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until ${t.big};
ALTER TABLE deliveries ADD COLUMN payload TEXT;
ALTER TABLE deliveries ADD COLUMN redelivery_of ${t.big};
DROP INDEX deliveries_change_uq;
CREATE UNIQUE INDEX deliveries_change_uq ON deliveries (workspace_id, webhook_id, change_seq) WHERE payload IS NULL;
`;
    },
  },
  {
    version: 6,
    name: "idempotency keys",
    sql: (d) => {
      const t = TYPES[d];
      // One row per (workspace, API key, Idempotency-Key): the request's hash and, once
      // answered, the answer to replay. `status` NULL while the first request runs.
      return `
CREATE TABLE idempotency_keys (
  workspace_id ${t.key} NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key_id ${t.key} NOT NULL,
  idem_key ${t.key} NOT NULL,
  request_hash TEXT,
  status INTEGER,
  content_type TEXT,
  body TEXT,
  created_at ${t.big} NOT NULL,
  PRIMARY KEY (workspace_id, key_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (workspace_id, created_at);
`;
    },
  },
  {
    version: 7,
    name: "server secrets",
    // Random keys the server makes once and keeps with its data (src/store/server-secret-repo.ts).
    sql: (d) => `
CREATE TABLE server_secrets (
  name ${TYPES[d].key} PRIMARY KEY,
  value TEXT NOT NULL,
  created_at ${TYPES[d].big} NOT NULL
);
`,
  },
  {
    version: 8,
    name: "computed fields",
    // A computed field's definition as JSON (docs/rules.md, "Computed fields"); NULL for a stored field.
    sql: () => `
ALTER TABLE fields ADD COLUMN computed TEXT;
`,
  },
  {
    version: 9,
    name: "contact journal",
    sql: (d) => (d === "sqlite" ? SQLITE_JOURNAL : POSTGRES_JOURNAL),
  },
  {
    version: 10,
    name: "snapshot marks, the change log by sequence",
    // The contact journal's position of the last snapshot file written per workspace: the
    // journal is pruned up to it, so a file of an older position cannot catch up. The
    // log by (workspace, seq): a start from a snapshot reads the changes after its
    // position, and the position is the workspace's last change; without it SQLite read
    // the workspace's whole log for either (1 s at 17 million changes). Its inserts come
    // in order, at the end of the workspace's range.
    sql: (d) => `
CREATE INDEX changes_workspace_seq ON changes (workspace_id, seq);
CREATE TABLE snapshot_marks (
  workspace_id ${TYPES[d].key} PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  journal ${TYPES[d].big} NOT NULL,
  written_at ${TYPES[d].big} NOT NULL
);
`,
  },
  {
    version: 11,
    name: "workspace epochs",
    // Cluster fencing (docs/cluster.md): the lease epoch that holds each workspace. A
    // node's write transactions check it (holding the row shared), a new holder raises it.
    sql: (d) => `
CREATE TABLE workspace_epochs (
  workspace_id ${TYPES[d].key} PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  epoch ${TYPES[d].big} NOT NULL
);
`,
  },
  {
    version: 12,
    name: "delivery claims",
    // When a delivery was claimed for an attempt whose outcome is not recorded yet. A
    // process that takes a workspace over makes such claims due at once (the process
    // that made them is gone), rather than waiting for their lease to run out; a retry's
    // wait (next_attempt_at without a claim) is left as it is.
    sql: (d) => `ALTER TABLE deliveries ADD COLUMN claimed_at ${TYPES[d].big};`,
  },
  {
    version: 13,
    name: "change log: one index by contact",
    // Two indexes by (segment, contact) differed by one column. Each change inserted into
    // either lands at a random place (contacts change in no order), and on SQLite each
    // such insert dirties a page of its own for the WAL and the checkpoint: dropping one
    // halved an append's cost at 2 million changes. The probe of "who was in at X" reads
    // the `at` of a contact's few changes from the table instead (docs/storage.md).
    sql: () => "DROP INDEX IF EXISTS changes_segment_contact;",
  },
];

/** Any constant: serialises migrations between processes on PostgreSQL. */
const LOCK_KEY = 5_114_001;

/** Applies the migrations not applied yet; returns the versions it applied. */
export async function migrate(
  x: Executor,
  now: number,
  list: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return x.atomic(async (tx) => {
    if (tx.dialect === "postgres") await tx.all("SELECT pg_advisory_xact_lock(?)", [LOCK_KEY]);
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version INTEGER PRIMARY KEY,
         name TEXT NOT NULL,
         applied_at ${TYPES[tx.dialect].big} NOT NULL
       )`,
    );
    const done = new Set(
      (await tx.all("SELECT version FROM schema_migrations")).map((r) => Number(r.version)),
    );
    const known = new Set(list.map((m) => m.version));
    const newer = [...done].filter((v) => !known.has(v));
    if (newer.length > 0) {
      throw new Error(
        `the database has schema version ${Math.max(...newer)}, newer than this Slice knows (${Math.max(...known)}): upgrade Slice`,
      );
    }
    const applied: number[] = [];
    for (const m of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql(tx.dialect));
      await tx.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [
        m.version,
        m.name,
        now,
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}
