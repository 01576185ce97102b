-- History ids need only grow within an instance: a plain rowid does that without
-- AUTOINCREMENT's extra sqlite_sequence write on every insert (docs/benchmarks.md).
CREATE TABLE instance_history_new (
  id          INTEGER PRIMARY KEY,
  instance_id TEXT NOT NULL,
  at          TEXT NOT NULL,
  kind        TEXT NOT NULL,
  step        TEXT,
  actor       TEXT,
  message     TEXT NOT NULL,
  data        TEXT
);
INSERT INTO instance_history_new SELECT id, instance_id, at, kind, step, actor, message, data FROM instance_history;
DROP TABLE instance_history;
ALTER TABLE instance_history_new RENAME TO instance_history;
CREATE INDEX instance_history_instance ON instance_history (instance_id, id);
