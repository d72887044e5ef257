"""A steady stream of inserts for resume tests: rows n = 0, 1, 2, ... into a table at a
given rate (a transaction every 20 ms with the rows due by then), on its own thread and
connection, until stopped. `count` is how many rows have committed."""
import threading
import time

import psycopg2


class Inserter:
    def __init__(self, dsn, table="public.items", rate=500, period_s=0.02):
        self.dsn, self.table, self.rate, self.period_s = dsn, table, rate, period_s
        self.count = 0
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        try:
            conn = psycopg2.connect(self.dsn)
            conn.autocommit = True
            started = time.monotonic()
            with conn.cursor() as cur:
                while not self._stop.is_set():
                    due = int((time.monotonic() - started) * self.rate)
                    if due > self.count:
                        cur.execute(f"INSERT INTO {self.table} (n) SELECT generate_series(%s, %s)",
                                    (self.count, due - 1))
                        self.count = due
                    time.sleep(self.period_s)
            conn.close()
        except Exception as exc:  # reported by stop()
            self.error = exc

    def stop(self):
        """Stops and returns how many rows were inserted (0 .. count-1); raises what failed."""
        self._stop.set()
        self._thread.join(timeout=30)
        if self.error:
            raise self.error
        return self.count
