-- pg_realtime 1.0: the catalog of realtime subscriptions and the SQL API around it.
--
-- Owns: realtime.subscription (read by the pg_realtime output plugin while decoding),
-- realtime.subscribe / unsubscribe / unsubscribe_node (all validation happens here, so
-- the plugin never parses user text), realtime.messages and the broadcasts stored in it
-- (realtime.send, send_binary, broadcast_changes, broadcast: delivered through the WAL
-- once their transaction commits, kept for replay), Realtime Authorization
-- (realtime.topic, realtime.authorize, realtime.replay), and realtime.nodes (the relay
-- registry used for cluster discovery and for cleaning up the rows of dead nodes).
--
-- The script is built from one file per concern under sql/, joined in the order
-- pg_plugin/Makefile lists them.

\echo Use "CREATE EXTENSION pg_realtime" to load this file. \quit
