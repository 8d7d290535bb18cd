"""Two processes share a numba cache folder: one loads a kernel while the other saves it.

``race`` runs both processes (``python numba_cache_race.py writer|reader FOLDER PREFIX SETUP
OPERATION``, with ``NUMBA_CACHE_DIR`` a folder both share) and checks that both succeeded; the
tests of rlu-trees and rlu-replay load this file by its path and call it. Both processes run
``SETUP`` (imports) and then ``OPERATION`` (which compiles or loads kernels and prints a result).

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
import subprocess
import sys
import time


def race(folder: pathlib.Path, prefix: str, setup: str, operation: str) -> tuple[str, str]:
    """Run the writer and the reader on ``folder``; both outputs, after both succeeded."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "cache")}

    def command(role: str) -> list[str]:
        return [sys.executable, __file__, role, str(folder), prefix, setup, operation]

    reader = subprocess.Popen(
        command("reader"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        writer = subprocess.run(
            command("writer"), capture_output=True, text=True, env=env, timeout=300
        )
        read_out, read_err = reader.communicate(timeout=300)
    finally:
        reader.kill()
    assert writer.returncode == 0, writer.stderr
    assert (folder / "index-written").exists(), "the writer saved no kernel named " + prefix
    assert reader.returncode == 0, read_err  # unlocked: the stale bytes fail to unpickle
    return writer.stdout, read_out


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
