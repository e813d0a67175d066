-- Explicit execution names reserved in the database before the execution runs, so that of several
-- replicas asked to create one name at once exactly one runs it (the unique key decides). A
-- reservation is not deleted when its execution is written — the executions row answers for the
-- name from then on, and deleting it in that transaction would let a concurrent reservation slip
-- through — it expires, and retention purges expired ones.
CREATE TABLE execution_name_reservations (
  namespace text NOT NULL,
  name text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, name)
);

CREATE INDEX execution_name_reservations_expires_at ON execution_name_reservations (expires_at);
