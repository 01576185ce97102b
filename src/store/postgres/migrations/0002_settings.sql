-- Server-wide settings shared by every node (e.g. the secret that signs one-click links).
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
