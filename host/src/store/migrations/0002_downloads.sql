-- mlx-host schema version 2: model downloads (`mlx-host models pull`, `models downloads`).

-- One row per pull. Progress is written every half second while it runs, so a crashed process
-- leaves its last figures; a `running` row whose owner process is gone was interrupted.
CREATE TABLE downloads (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repo           TEXT    NOT NULL,
    revision       TEXT    NOT NULL,          -- what the user asked for (branch, tag or commit)
    commit_sha     TEXT,                      -- what it resolved to, once known
    state          TEXT    NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled', 'interrupted')),
    owner          TEXT    NOT NULL CHECK (owner IN ('daemon', 'cli')),
    owner_pid      INTEGER NOT NULL,
    owner_start    INTEGER,                   -- the OS's start time of owner_pid (opaque u64)
    files_total    INTEGER,
    files_done     INTEGER NOT NULL DEFAULT 0,
    bytes_total    INTEGER,
    bytes_done     INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    started_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER
) STRICT;
CREATE INDEX downloads_by_repo ON downloads (repo, id);
CREATE INDEX downloads_running ON downloads (id) WHERE state = 'running';
