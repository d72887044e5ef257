"""A stalled slot holder (issue 14, fault 5): SIGSTOP for several seconds under a stream
of inserts. A standby that sees the holder's heartbeats stop for
Config::holder_silence_ms ends its walsender (pg_terminate_backend on the slot's
active_pid) and takes over, well before wal_sender_timeout (5 s) would have freed the
slot. When the stalled holder runs again it notices it was stopped before acting as
holder: it lets the slot go without routing or acknowledging, its heartbeats never say
it holds the slot while the new holder does (realtime_slot_holder_conflicts_total), and
its clients get every row from the new holder's backlog. Counted by unique row id per
client."""
import asyncio
import os
import signal
import time

from support.cluster import FAST, Inserter, all_received, collectors, holders, start_cluster, wait_holder
from support.pg import wait_until
from support.phoenix import run

STOP_S = 6


def test_stalled_holder_is_taken_over_and_lets_go_when_it_runs_again(items, slot, relay_factory):
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot,
                            args=FAST + ["--resume-grace", "30"])
    holder = cluster.holder()
    others = [r for r in cluster if r is not holder]

    async def body():
        cols = await collectors(cluster)
        inserter = Inserter(db.dsn, period=0.01, rows=2)
        inserter.start()
        stopped = False
        try:
            await asyncio.to_thread(wait_until, lambda: len(inserter.committed) > 100, 20)
            for col in cols.values():
                await col.wait_for(inserter.ids()[:100], timeout=20)
            os.kill(holder.pid, signal.SIGSTOP)
            stopped = True
            t_stop = time.monotonic()
            new = await asyncio.to_thread(wait_holder, others, 20)
            takeover_s = time.monotonic() - t_stop
            n_mark = len(inserter.committed)
            await asyncio.to_thread(wait_until, lambda: len(inserter.committed) > n_mark + 50, 20)
            for r in others:
                await cols[r.node_id].wait_for(inserter.ids()[n_mark:n_mark + 50], timeout=20)
            await asyncio.sleep(max(0.0, STOP_S - (time.monotonic() - t_stop)))
            os.kill(holder.pid, signal.SIGCONT)
            stopped = False
            # Running again, it holds nothing while the new holder streams.
            for _ in range(15):
                h = holder.health()
                assert h is not None and not h["slot_holder"], f"the stalled holder acts as holder again: {h}"
                assert [r.node_id for r in holders(list(cluster))] == [new.node_id]
                await asyncio.sleep(0.2)
            n_back = len(inserter.committed)
            await asyncio.to_thread(wait_until, lambda: len(inserter.committed) > n_back + 100, 20)
        finally:
            if stopped:
                os.kill(holder.pid, signal.SIGCONT)
            inserter.stop()
        committed = inserter.ids()
        assert inserter.errors == 0
        got = await all_received(cols, committed)
        assert "did not run for" in holder.log_text(), "the stalled holder did not notice it was stopped"
        conflicts = {r.node_id: r.metrics().get("realtime_slot_holder_conflicts_total") for r in cluster}
        assert all(v == 0 for v in conflicts.values()), f"two nodes said they hold the slot: {conflicts}"
        print(f"holder {holder.node_id} stopped {STOP_S} s: {new.node_id} streams {takeover_s:.2f} s after the "
              f"stop; {len(committed)} rows, {got}")
        # wal_sender_timeout alone frees the slot after 5 s at the earliest.
        assert takeover_s < 4, f"the takeover took {takeover_s:.1f} s"
    run(body(), timeout=240)
