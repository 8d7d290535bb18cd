"""Work on byte views in order, on one helper thread: checksums beside reading.

The verifying reader (``_verify``) checks the checksums of uncompressed blocks, and a content
checksum (xxHash-32 of all content, one pass that cannot be split) where a frame has one.
``xxhash`` releases the GIL, so the checks run on a ``Lane`` while the calling thread reads the
next block, and the two cost about the time of the slower one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class Lane:
    """Work on views, in order, on one helper thread once the views are large.

    ``work(view, *args)`` runs inline until the first view of ``THREAD_FROM`` bytes or more
    arrives; from then on views go through a queue to one thread. The lane owns each view
    handed to it and releases it once worked on (or, after ``abandon``, unworked), so the
    memory behind the views may be reused or closed.

    Parameters
    ----------
    work : callable
        Called as ``work(view, *args)`` for each ``put(view, *args)``, in order.

    Examples
    --------
    >>> seen = []
    >>> lane = Lane(lambda view: seen.append(bytes(view)))
    >>> lane.put(memoryview(b"ab"))
    >>> lane.put(memoryview(bytes(Lane.THREAD_FROM)))
    >>> lane.finish()  # every view put so far is worked on and released
    >>> [len(s) for s in seen]
    [2, 1048576]
    """

    THREAD_FROM = 1 << 20

    def __init__(self, work: Callable[..., None]) -> None:
        self._work = work
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._error: BaseException | None = None  # what stopped the helper thread's work

    def put(self, view: memoryview, *args: Any) -> None:
        """Work on ``view`` after everything put before it."""
        if self._thread is None and view.nbytes >= self.THREAD_FROM:
            thread = threading.Thread(target=self._run, name="rlu-verify", daemon=True)
            try:
                thread.start()
                self._thread = thread
            except RuntimeError:  # no new threads (the interpreter is exiting): stay inline
                pass
        if self._thread is None:
            try:
                if not self._stop and self._error is None:
                    self._work(view, *args)
            finally:
                view.release()
        else:
            self._queue.put((view, args))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            view, args = item
            try:
                if not self._stop and self._error is None:
                    self._work(view, *args)
            except BaseException as error:  # raised by finish(), on the caller
                self._error = error
            finally:
                view.release()

    def _raise(self) -> None:
        if self._error is not None and not self._stop:
            raise self._error

    def finish(self) -> None:
        """Return once everything put has been worked on, and stop the helper thread; raise
        what stopped the work."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def abandon(self) -> None:
        """Stop working; return once every view handed over is released."""
        self._stop = True
        self.finish()
