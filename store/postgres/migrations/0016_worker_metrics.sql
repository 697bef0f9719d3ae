-- Workers say where their /metrics is, for Prometheus's service discovery
-- through the gateway.
ALTER TABLE workers ADD COLUMN metrics_addr text NOT NULL DEFAULT '';
