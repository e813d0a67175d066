-- Execution history: executions, their task rows, workflow revisions and the change log that
-- watch reads. Every write takes a number from resource_version_seq inside a transaction that holds
-- the history write lock (see pg-store.ts), so numbers become visible in the order they were taken.

CREATE SEQUENCE resource_version_seq;

-- One row: the newest resource_version committed and the oldest one a watch may start from.
CREATE TABLE history_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_rv bigint NOT NULL DEFAULT 0,
  compacted_rv bigint NOT NULL DEFAULT 0
);
INSERT INTO history_state DEFAULT VALUES;

CREATE TABLE executions (
  -- resource_version at creation: immutable, the keyset for list order and the ADDED event.
  id bigint PRIMARY KEY,
  -- resource_version of the latest write (creation or metadata patch).
  resource_version bigint NOT NULL,
  namespace text NOT NULL,
  name text NOT NULL,
  uid uuid NOT NULL,
  workflow_name text NOT NULL,
  phase text NOT NULL,
  created_at timestamptz NOT NULL,
  labels jsonb NOT NULL DEFAULT '{}',
  annotations jsonb NOT NULL DEFAULT '{}',
  -- spec and status (with status.tasks) are stored as written and never queried inside: json keeps
  -- the text as is, which costs a fraction of jsonb's conversion on the write path.
  spec json NOT NULL,
  status json NOT NULL,
  -- number of task_executions rows written with this row (same transaction): a consistency check.
  task_count integer NOT NULL,
  UNIQUE (namespace, name)
);
CREATE INDEX executions_namespace_id ON executions (namespace, id);
CREATE INDEX executions_workflow_id ON executions (namespace, workflow_name, id);
CREATE INDEX executions_created_at ON executions (created_at);

-- One narrow row per task of an execution, for per-task queries and duration statistics (the full
-- task records are in executions.status.tasks).
CREATE TABLE task_executions (
  -- No foreign key: it would cost an index probe per task row on the write path; deletes remove
  -- task rows explicitly in the same statement as their execution.
  execution_id bigint NOT NULL,
  ordinal integer NOT NULL,
  task_id text NOT NULL,
  phase text NOT NULL,
  duration_ms double precision,
  PRIMARY KEY (execution_id, ordinal)
);

-- lz4 compresses large statuses several times faster than the default pglz; PostgreSQL builds
-- without lz4 (and PGlite) keep the default.
DO $$
BEGIN
  ALTER TABLE executions ALTER COLUMN status SET COMPRESSION lz4, ALTER COLUMN spec SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'lz4 compression not available; keeping the default';
END $$;

-- MODIFIED and DELETED events (ADDED events are the executions rows themselves), with the metadata
-- as of the event. Purged after the watch window; the highest purged number becomes
-- history_state.compacted_rv, older watches get 410 Gone.
CREATE TABLE execution_changes (
  rv bigint PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('MODIFIED', 'DELETED')),
  execution_id bigint NOT NULL,
  namespace text NOT NULL,
  name text NOT NULL,
  uid uuid NOT NULL,
  workflow_name text NOT NULL,
  phase text NOT NULL,
  created_at timestamptz NOT NULL,
  labels jsonb NOT NULL,
  annotations jsonb NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX execution_changes_changed_at ON execution_changes (changed_at);

CREATE TABLE workflow_revisions (
  namespace text NOT NULL,
  name text NOT NULL,
  workflow_name text NOT NULL,
  hash text NOT NULL,
  definition jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  resource_version bigint NOT NULL,
  PRIMARY KEY (namespace, name),
  UNIQUE (namespace, workflow_name, hash)
);
CREATE INDEX workflow_revisions_workflow ON workflow_revisions (namespace, workflow_name, resource_version);
