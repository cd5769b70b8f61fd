-- Databases created before the tombstones moved here have a service-made deleted_videos table
-- without tenant_id (002 kept it: CREATE TABLE IF NOT EXISTS); mark_deleted writes that column.
ALTER TABLE deleted_videos ADD COLUMN IF NOT EXISTS tenant_id text;
