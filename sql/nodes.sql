-- realtime.nodes: the registry of relays (cluster discovery, dead nodes' cleanup).

-- Relays of a cluster announce themselves here; peers discover each other from it, and
-- the slot holder removes the subscriptions of nodes whose heartbeat went stale.
CREATE TABLE realtime.nodes (
    node_id          text        PRIMARY KEY,
    cluster_endpoint text,
    public_key       text,       -- the CURVE public key (Z85) of its mesh; peers dial it only if they trust it
    region           text,
    incarnation      text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    last_heartbeat   timestamptz NOT NULL DEFAULT now()
);
