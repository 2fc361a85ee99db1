"""The store's change watch: a reader wakes when another process's samples are committed (LISTEN/NOTIFY
on PostgreSQL, data_version on SQLite), and only times out when nothing was written."""

from __future__ import annotations

import threading
import time

from store import Sample, open_store
from store.changes import SampleWatch


def test_a_write_from_another_connection_wakes_the_watch(store_url: str) -> None:
    reader = open_store(store_url)
    writer = open_store(store_url)
    watch = SampleWatch(reader.engine)
    try:
        assert watch.wait(0.3) is False  # nothing written: it times out
        written_at: list[float] = []

        def write() -> None:
            time.sleep(0.4)
            writer.write_samples([Sample("db1", "up", {}, 1_800_000_000, 1.0)])
            written_at.append(time.monotonic())

        thread = threading.Thread(target=write)
        thread.start()
        assert watch.wait(10.0) is True
        woke = time.monotonic()
        thread.join()
        assert written_at and woke - written_at[0] < 1.0  # at once, not at the end of the timeout
        watch.rebase()
        assert watch.wait(0.3) is False  # one write is one wake-up
        stop = threading.Event()
        stop.set()
        begun = time.monotonic()
        assert watch.wait(5.0, stop) is False and time.monotonic() - begun < 1.0  # stop ends the wait
    finally:
        watch.close()
        reader.close()
        writer.close()
