"""RateLimiter: how far a learner may sample ahead of insertion (pure Python, no Ray needed)."""

from __future__ import annotations

from rlu_replay._checks import check_int, check_real


class RateLimiter:
    """How far sampling may run ahead of insertion, as Reverb's ``SampleToInsertRatio``.

    Sampling waits until the shards together hold ``min_size`` items, and then while it would
    take the number of items sampled (over all learners) past
    ``samples_per_insert * (inserted - min_size) + error_buffer``, where ``inserted`` counts
    every item ever added. A fast learner therefore cannot replay a slow stream more than
    ``samples_per_insert`` times per item on average. Inserts are never held back by the
    ratio (producers in Ape-X should not stall); they have their own backpressure
    (``ReplayWriter``'s ``max_in_flight``).

    Parameters
    ----------
    samples_per_insert : float, optional
        The ratio; None lets sampling run freely once ``min_size`` is reached.
    min_size : int, optional
        How many items the shards must hold before any sampling (at least 1).
    error_buffer : float, optional
        Slack, in sampled items, around the ratio; default: the batch size of each call, so
        that one batch may always be drawn when the ratio allows it.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``samples_per_insert <= 0``, ``min_size < 1`` or ``error_buffer < 0``.

    Examples
    --------
    >>> from rlu_replay.ray import RateLimiter
    >>> limiter = RateLimiter(samples_per_insert=8.0, min_size=1000)
    >>> limiter.allows(n=64, size=500, inserted=500, sampled=0)  # not enough items yet
    False
    >>> limiter.allows(n=64, size=1010, inserted=1010, sampled=0)  # 8 * 10 + 64 >= 64
    True
    >>> limiter.allows(n=64, size=1010, inserted=1010, sampled=128)  # wait for more inserts
    False
    """

    def __init__(
        self,
        samples_per_insert: float | None = None,
        min_size: int = 1,
        error_buffer: float | None = None,
    ) -> None:
        self._spi = (
            None
            if samples_per_insert is None
            else check_real("samples_per_insert", samples_per_insert, low=0.0, low_open=True)
        )
        self._min_size = check_int("min_size", min_size, minimum=1)
        self._error_buffer = (
            None if error_buffer is None else check_real("error_buffer", error_buffer, low=0.0)
        )

    @property
    def samples_per_insert(self) -> float | None:
        """float or None: The target ratio of sampled to inserted items."""
        return self._spi

    @property
    def min_size(self) -> int:
        """int: How many items must be stored before sampling starts."""
        return self._min_size

    @property
    def error_buffer(self) -> float | None:
        """float or None: The slack around the ratio (None: one batch)."""
        return self._error_buffer

    def __repr__(self) -> str:
        return (
            f"RateLimiter(samples_per_insert={self._spi}, min_size={self._min_size}, "
            f"error_buffer={self._error_buffer})"
        )

    def allows(self, n: int, size: int, inserted: int, sampled: int) -> bool:
        """Whether ``n`` more items may be sampled now.

        Parameters
        ----------
        n : int
            The batch size about to be drawn.
        size : int
            How many items the shards hold.
        inserted : int
            How many items were ever added.
        sampled : int
            How many items were ever sampled.

        Returns
        -------
        bool
            True when sampling may go ahead.

        Examples
        --------
        >>> from rlu_replay.ray import RateLimiter
        >>> RateLimiter(min_size=10).allows(n=4, size=10, inserted=10, sampled=10**6)
        True
        """
        if size < self._min_size:
            return False
        if self._spi is None:
            return True
        slack = float(n) if self._error_buffer is None else self._error_buffer
        return sampled + n <= self._spi * (inserted - self._min_size) + slack


RateLimiter.__module__ = "rlu_replay.ray"
