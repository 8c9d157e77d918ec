-- A tenant's default quiet hours and time zone, for recipients who set none of their own.
ALTER TABLE tenants ADD COLUMN quiet_hours jsonb;
ALTER TABLE tenants ADD COLUMN timezone text;
