"""Two processes share a numba cache folder: one loads a kernel while the other saves it.

Run as ``python numba_cache_race.py writer|reader FOLDER PREFIX SETUP OPERATION`` with
``NUMBA_CACHE_DIR`` set to a folder both processes share. Both run ``SETUP`` (imports) and then
``OPERATION`` (which compiles or loads kernels and prints a result).

The writer saves the first kernel whose cache index name starts with ``PREFIX`` slowly: numba
writes the index naming the data file, then this script puts stale bytes in that data file (as
another numba version or an older source would have left it), touches ``FOLDER/index-written``
and waits for the reader before numba writes the real data. The reader, its imports done and
numba set up, starts its operation when the index is written (touching ``FOLDER/reader-started``)
and touches ``FOLDER/reader-done`` when it ends, however it ends; the writer goes on at that, or
1 s after the reader started. Unprotected, the reader loads the stale bytes at once and dies;
with a lock, it waits for the save.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time


def warm_up() -> None:
    """Import numba and set its compiler up (no cache), so the operation's loads come at once."""
    import numba

    numba.njit(lambda: 0)()


def main() -> None:
    role, folder_arg, prefix, setup, operation = sys.argv[1:6]
    folder = pathlib.Path(folder_arg)
    written, started, done = (
        folder / n for n in ("index-written", "reader-started", "reader-done")
    )
    scope: dict[str, object] = {}
    if role == "reader":
        try:
            exec(setup, scope)
            warm_up()
            deadline = time.monotonic() + 300.0
            while not written.exists():
                if time.monotonic() > deadline:
                    raise SystemExit("the writer never saved a kernel named " + prefix)
                time.sleep(0.01)
            started.touch()
            exec(operation, scope)
        finally:
            done.touch()
        return

    from numba.core import caching

    save_data = caching.IndexDataCacheFile._save_data

    def slow_save(self: caching.IndexDataCacheFile, name: str, data: object) -> None:
        if not written.exists() and os.path.basename(self._index_path).startswith(prefix):
            pathlib.Path(self._data_path(name)).write_bytes(b"not this kernel's code")
            written.touch()
            deadline = time.monotonic() + 300.0  # until the reader starts
            while not done.exists() and time.monotonic() < deadline:
                if started.exists() and deadline - time.monotonic() > 1.0:
                    deadline = time.monotonic() + 1.0  # its first load takes milliseconds
                time.sleep(0.01)
        save_data(self, name, data)

    caching.IndexDataCacheFile._save_data = slow_save  # type: ignore[method-assign]
    exec(setup, scope)
    exec(operation, scope)


if __name__ == "__main__":
    main()
