-- 0005_device_interfaces: the interfaces an agent captures on, from its
-- heartbeat, as a JSON array of names.
ALTER TABLE devices ADD COLUMN interfaces TEXT NOT NULL DEFAULT '';
