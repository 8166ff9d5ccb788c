-- The warehouse sample as a LOB database table (SQLite):
--   sqlite3 assets.db < assets.sql
-- then LOB_SOURCE='odbc:Driver=SQLite3;Database=/path/assets.db' LOB_QUERY='SELECT * FROM assets'
CREATE TABLE assets (kind TEXT NOT NULL, id TEXT PRIMARY KEY, name TEXT NOT NULL, parent TEXT,
  city TEXT, zone_kind TEXT, capacity INTEGER, battery REAL, status TEXT, "order" TEXT);
INSERT INTO assets VALUES ('site', 'site-sea', 'Seattle DC', NULL, 'Seattle', NULL, NULL, NULL, NULL, NULL);
INSERT INTO assets VALUES ('site', 'site-rdm', 'Redmond Hub', NULL, 'Redmond', NULL, NULL, NULL, NULL, NULL);
INSERT INTO assets VALUES ('zone', 'zone-sea-a', 'Aisle A', 'site-sea', NULL, 'storage', 1200, NULL, NULL, NULL);
INSERT INTO assets VALUES ('zone', 'zone-sea-b', 'Aisle B', 'site-sea', NULL, 'storage', 900, NULL, NULL, NULL);
INSERT INTO assets VALUES ('zone', 'zone-sea-dock', 'Dock 1', 'site-sea', NULL, 'loading', 40, NULL, NULL, NULL);
INSERT INTO assets VALUES ('zone', 'zone-rdm-a', 'Aisle A', 'site-rdm', NULL, 'storage', 600, NULL, NULL, NULL);
INSERT INTO assets VALUES ('zone', 'zone-rdm-dock', 'Dock 2', 'site-rdm', NULL, 'loading', 25, NULL, NULL, NULL);
INSERT INTO assets VALUES ('forklift', 'fl-001', 'Forklift 1', 'zone-sea-a', NULL, NULL, NULL, 87.5, 'idle', NULL);
INSERT INTO assets VALUES ('forklift', 'fl-002', 'Forklift 2', 'zone-sea-a', NULL, NULL, NULL, 64, 'carrying', 'SO-1001');
INSERT INTO assets VALUES ('forklift', 'fl-003', 'Forklift 3', 'zone-sea-b', NULL, NULL, NULL, 91, 'idle', NULL);
INSERT INTO assets VALUES ('forklift', 'fl-004', 'Forklift 4', 'zone-sea-dock', NULL, NULL, NULL, 35.5, 'charging', NULL);
INSERT INTO assets VALUES ('forklift', 'fl-005', 'Forklift 5', 'zone-rdm-a', NULL, NULL, NULL, 78, 'carrying', 'SO-1002');
INSERT INTO assets VALUES ('forklift', 'fl-006', 'Forklift 6', 'zone-rdm-dock', NULL, NULL, NULL, 99, 'idle', NULL);
