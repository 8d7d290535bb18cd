"""Two processes share a numba cache folder: one loads a kernel while the other saves it.

Run as ``python numba_cache_race.py writer|reader FOLDER PREFIX SETUP OPERATION`` with
``NUMBA_CACHE_DIR`` set to a folder both processes share. Both run ``SETUP`` (imports) and then
``OPERATION`` (which compiles or loads kernels and prints a result).

The writer saves the first kernel whose cache index name starts with ``PREFIX`` slowly: numba
writes the index naming the data file, then this script puts stale bytes in that data file (as
another numba version or an older source would have left it), touches ``FOLDER/index-written``
and waits up to 3 s for the reader before numba writes the real data. The reader starts its
operation when the index is written, and touches ``FOLDER/reader-done`` when it ends, however it
ends. Unprotected, the reader loads the stale bytes and dies; with a lock, it waits for the save.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time


def main() -> None:
    role, folder_arg, prefix, setup, operation = sys.argv[1:6]
    folder = pathlib.Path(folder_arg)
    written, done = folder / "index-written", folder / "reader-done"
    scope: dict[str, object] = {}
    exec(setup, scope)
    if role == "writer":
        from numba.core import caching

        save_data = caching.IndexDataCacheFile._save_data

        def slow_save(self: caching.IndexDataCacheFile, name: str, data: object) -> None:
            first = not written.exists()
            if first and os.path.basename(self._index_path).startswith(prefix):
                pathlib.Path(self._data_path(name)).write_bytes(b"not this kernel's code")
                written.touch()
                deadline = time.monotonic() + 3.0
                while not done.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
            save_data(self, name, data)

        caching.IndexDataCacheFile._save_data = slow_save  # type: ignore[method-assign]
        exec(operation, scope)
        return
    deadline = time.monotonic() + 300.0
    while not written.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the writer never saved a kernel named " + prefix)
        time.sleep(0.01)
    try:
        exec(operation, scope)
    finally:
        done.touch()


if __name__ == "__main__":
    main()
