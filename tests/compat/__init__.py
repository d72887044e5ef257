"""The compatibility suite: Supabase Realtime's client-observable behaviours (README.md)."""
