"""dump, dumps, load and loads: any Python object as an LZ4-compressed pickle.

Objects are pickled with cloudpickle (protocol 5), so lambdas, closures and
other functions defined at run time are included. The result is one standard
LZ4 frame holding that pickle, so ``cloudpickle.loads(lz4.frame.decompress(s))``
and the ``lz4`` command-line tool read it, and [`loads`][rlu_serialize.loads] /
[`load`][rlu_serialize.load] read what ``lz4.frame.compress(cloudpickle.dumps(obj))``
or ``lz4.frame.open`` wrote.
A signed checkpoint (``key=...``) is the same frame followed by a skippable frame
that holds its HMAC-SHA256, which every LZ4 decoder skips.

Loading verifies first: the whole frame is decompressed and its checksums (and,
with a key, its signature) are checked before the unpickler sees a byte of it.
Loading a pickle can run arbitrary code; ``trusted=False`` interprets the
pickle with rlu's own restricted machine, which builds plain data only.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from rlu_serialize import _background
from rlu_serialize._atomic import BackgroundSync, GatheredWrites, atomic_write
from rlu_serialize._checks import check_bool, check_byte_view, check_max_bytes, check_path
from rlu_serialize._content import Content, close_map, map_file, unmapper
from rlu_serialize._errors import CorruptedDataError
from rlu_serialize._frame import HEADER_SIZE, FrameWriter, frame_header
from rlu_serialize._signature import check_key, signature_frame
from rlu_serialize._verify import ViewStream, decompress, verify_signature

if TYPE_CHECKING:
    from concurrent.futures import Future

_PROTOCOL = 5
#: The ``max_bytes`` a restricted load applies when none is given: 4 GiB of pickle.
RESTRICTED_MAX_BYTES = 4 << 30


def _pickle(obj: Any, sink: Any) -> None:
    import cloudpickle

    cloudpickle.CloudPickler(sink, protocol=_PROTOCOL).dump(obj)


def _fill(writer: FrameWriter, produce: Callable[[FrameWriter], None]) -> None:
    """Write the frame body: ``produce`` writes the content, then the frame is closed."""
    try:
        produce(writer)
        writer.close()
    except BaseException:
        writer.abort()
        raise


def _unpickle(content: Content, trusted: bool, max_bytes: int | None) -> Any:
    try:
        if trusted:
            obj = pickle.Unpickler(content).load()
            if content.remaining:
                raise CorruptedDataError(
                    "the checkpoint is not intact: there is content after the end of the pickle"
                )
            return obj
        from rlu_serialize._restricted import RestrictedUnpickler

        return RestrictedUnpickler(content, max_bytes).load()
    finally:
        content.close()


def _load_from(
    reader: Callable[[], Any],
    name: str,
    trusted: bool,
    key: Any,
    max_bytes: Any,
    total: int,
    release: Callable[[int, int], None] | None = None,
) -> Any:
    """Load from the stream ``reader()`` gives (each call starts it again from the beginning).

    A stream has ``read(n)`` and, optionally, ``readinto(buffer)``. ``release`` is told the
    parts of a mapped input that are no longer needed (see ``decompress``).
    """
    limit = check_max_bytes("max_bytes", max_bytes)
    if limit is None and not trusted:
        limit = RESTRICTED_MAX_BYTES
    secret = check_key(key)
    if secret is not None:  # nothing is decompressed before the signature holds
        verify_signature(reader(), name, secret, total)
    content = decompress(
        reader(),
        name,
        max_bytes=limit,
        require_checksum=not trusted,
        key=secret,
        total=total,
        release=release,
    )
    return _unpickle(content, trusted, limit)


def dumps(obj: Any, *, key: bytes | None = None) -> bytes:
    """Serialize an object to an LZ4-compressed pickle byte string.

    References between objects are preserved within one call, not across calls:
    ``dumps((a, b))`` keeps ``b``'s reference to ``a``, while ``dumps(a)`` and
    ``dumps(b)`` separately give two independent copies of ``a``. Store a whole
    state as one object (a dict or a tuple) to keep it consistent.

    The byte string is one standard LZ4 frame (content size and block
    checksums) holding a cloudpickle pickle, protocol 5. Large buffers such as
    array data are compressed straight from the object's memory, on several
    threads at once; data that does not compress (model weights) is stored as
    it is, without being compressed in vain.

    Parameters
    ----------
    obj : object
        Any object cloudpickle can pickle, including lambdas and closures.
    key : bytes, optional
        Sign the result with this secret key (at least 16 bytes, for example
        ``secrets.token_bytes(32)``): an HMAC-SHA256 of the frame follows it in a
        skippable frame, which LZ4 decoders skip. ``loads(s, key=key)`` then
        refuses anything not signed with the same key.

    Returns
    -------
    bytes
        The LZ4 frame (and its signature, with ``key``).

    Raises
    ------
    pickle.PicklingError, TypeError
        If ``obj`` or something it references cannot be pickled.
    TypeError
        If ``key`` is not bytes-like.
    ValueError
        If ``key`` is shorter than 16 bytes.

    Examples
    --------
    >>> from rlu_serialize import dumps, loads
    >>> a = [13]
    >>> b = {"a": a}
    >>> a_new, b_new = loads(dumps((a, b)))
    >>> b_new["a"].append(7)
    >>> a_new  # one call: the reference is preserved
    [13, 7]
    >>> a_new, b_new = loads(dumps(a)), loads(dumps(b))
    >>> b_new["a"].append(7)
    >>> a_new  # two calls: two independent copies
    [13]
    >>> loads(dumps(lambda x: 2 * x))(21)
    42
    """
    secret = check_key(key)
    pieces: list[bytes] = [b""]
    body = _body_hash(secret)

    def emit(piece: Any) -> None:
        data = piece if isinstance(piece, bytes) else bytes(piece)
        pieces.append(data)
        if body is not None:
            body.update(data)

    writer = FrameWriter(emit)
    _fill(writer, lambda sink: _pickle(obj, sink))
    pieces[0] = frame_header(writer.content_size, writer.largest_block)
    if secret is not None:
        pieces.append(signature_frame(secret, pieces[0], body.digest()))
    return b"".join(pieces)


def _body_hash(key: bytes | None) -> Any:
    import hashlib

    return None if key is None else hashlib.sha256()


@overload
def dump(
    obj: Any,
    filepath: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    background: Literal[False] = False,
    durable: bool = True,
) -> None: ...


@overload
def dump(
    obj: Any,
    filepath: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    background: Literal[True],
    durable: bool = True,
) -> Future[None]: ...


@overload
def dump(
    obj: Any,
    filepath: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    background: bool,
    durable: bool = True,
) -> Future[None] | None: ...


def dump(
    obj: Any,
    filepath: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    background: bool = False,
    durable: bool = True,
) -> Future[None] | None:
    """Save an object to a file as an LZ4-compressed pickle.

    The file holds exactly what [`dumps`][rlu_serialize.dumps] returns, written as a stream
    (the pickle and its compressed copy never exist in memory as a whole).
    Missing parent directories are created and ``~`` is expanded.

    The write is atomic: the data goes to a temporary file in the same
    directory, which is flushed, fsynced and then renamed over ``filepath``. If
    the dump fails halfway (an object that cannot be pickled, a full disk, a
    crash), the previous file at ``filepath`` stays as it was and no temporary
    file is left behind. A file that is replaced keeps its permission bits (and
    its owner and group, where the process may set them); a new file gets
    ``0o666`` less the umask.

    With ``durable=False`` nothing is fsynced, as ``numpy.save``, safetensors and
    ``pickle.dump`` do not fsync either: the write is as atomic for every process
    (readers, and a program killed halfway, see the old file or the new), and
    dump returns as soon as the file is in the operating system's cache, but a
    power loss or an operating-system crash soon after may leave the old file, no
    file, or an incomplete one in its place. [`load`][rlu_serialize.load] refuses
    an incomplete file (``CorruptedDataError``: its checksum or its end mark is
    missing); it never returns damaged data.

    References between objects are preserved within one call, not across calls
    (see [`dumps`][rlu_serialize.dumps]): store a whole state as one object.

    A synchronous dump reads arrays while it writes them: if another thread
    changes an array meanwhile, the file may hold some of the new values, or
    dump raises ``ValueError`` and saves nothing, or (where the change lands in
    an uncompressed block) [`load`][rlu_serialize.load] refuses the file; it
    never holds bytes the array did not have. ``background=True`` takes a
    snapshot first.

    With ``background=True`` the training loop waits only for a snapshot: ``obj``
    is pickled at once, on the calling thread, with the data of every array (and
    every other large mutable buffer) copied into memory the snapshot owns; JAX
    arrays on an accelerator are copied to host memory on the way, as pickling
    always does. The call then returns a ``concurrent.futures.Future`` while one
    writer thread compresses and writes the snapshot, atomically as above. The
    program may change or delete its arrays at once: the file holds the state at
    the moment of the call, byte for byte what a synchronous ``dump`` would have
    written then. The snapshot costs memory about the size of the arrays until
    the file is written. ``future.result()`` waits for the file and raises the
    error that stopped it (``filepath`` then unchanged); ``future.done()`` asks
    without waiting.

    Dumps to one path land in the order they were asked for: a dump (either
    kind) to a path first waits for the background dumps still queued for it, so
    the newest call wins, and [`load`][rlu_serialize.load] of that path waits
    for them too. Background dumps are written one at a time, in order, and the
    interpreter waits for those still queued when it exits (a forked child starts
    a writer of its own). A relative ``filepath`` is taken from the working
    directory at the call.

    Parameters
    ----------
    obj : object
        Any object cloudpickle can pickle.
    filepath : str or os.PathLike
        Where to store the object.
    key : bytes, optional
        Sign the file with this secret key (see [`dumps`][rlu_serialize.dumps]).
    background : bool, default False
        Return once ``obj`` is snapshotted and write the file on a background
        thread.
    durable : bool, default True
        Fsync the file (and its directory) before dump returns (before the
        future completes, with ``background=True``): the checkpoint survives a
        power loss from then on.

    Returns
    -------
    None or concurrent.futures.Future
        None; with ``background=True``, a future whose ``result()`` is None once
        the file is in place.

    Raises
    ------
    TypeError
        If ``filepath`` is not a path, ``key`` is not bytes-like, or
        ``background`` or ``durable`` is not a bool.
    ValueError
        If ``filepath`` is empty (also a FileNotFoundError, as coax raised),
        ``key`` is shorter than 16 bytes, or an array changed while a
        synchronous dump was writing it (``filepath`` then unchanged).
    pickle.PicklingError, TypeError
        If ``obj`` cannot be pickled (raised by the call itself, also with
        ``background=True``); ``filepath`` is then unchanged.
    OSError
        If the file cannot be written (with ``background=True``: raised by the
        future's ``result()``); ``filepath`` is then unchanged.
    RuntimeError
        If called from a background dump's done-callback for a path that
        another background dump, queued behind that one, is still to write:
        the callback runs on the writer thread, which cannot wait for itself.

    Examples
    --------
    >>> import os, tempfile
    >>> from rlu_serialize import dump, load
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoints", "state.pkl.lz4")
    >>> a = [13]
    >>> dump((a, {"a": a}), path)
    >>> a_new, b_new = load(path)
    >>> b_new["a"].append(7)
    >>> a_new
    [13, 7]

    In the background, while the loop goes on:

    >>> import numpy as np
    >>> weights = np.zeros(3)
    >>> pending = dump({"weights": weights}, path, background=True)
    >>> weights += 1.0  # the checkpoint keeps the values it had at the call
    >>> pending.result()  # wait for the file (and raise what stopped it)
    >>> load(path)["weights"]
    array([0., 0., 0.])
    """
    path = check_path("filepath", filepath)
    secret = check_key(key)
    synced = check_bool("durable", durable)
    if not check_bool("background", background):
        _background.wait_for(path)  # a dump asked for earlier must not land after this one
        _write_file(path, secret, lambda sink: _pickle(obj, sink), synced)
        return None
    path = os.path.abspath(path)  # where the program is now, not where it is when written
    snapshot = _background.Snapshot()
    try:
        _pickle(obj, snapshot)  # anything that cannot be pickled is raised here, at once
    except BaseException:
        snapshot.release()
        raise

    def job() -> None:
        try:
            _write_file(path, secret, lambda sink: snapshot.replay(sink.write), synced)
        finally:
            snapshot.release()

    return _background.submit(path, job)


def _write_file(
    path: str, secret: bytes | None, produce: Callable[[FrameWriter], None], durable: bool
) -> None:
    """Write the frame whose content ``produce`` writes to ``path``, atomically."""
    body = _body_hash(secret)
    with atomic_write(path, durable=durable) as file:
        sync = BackgroundSync(file.fileno()) if durable else None
        file.write(bytes(HEADER_SIZE))  # the header is written once the size is known
        file.flush()  # the body goes past the buffer, straight to the file
        out = GatheredWrites(file.fileno())

        def emit(piece: Any) -> None:
            if body is not None:
                body.update(piece)
            written = out.write(piece)
            if sync is not None and written:
                sync.wrote(written)

        try:
            writer = FrameWriter(emit)
            _fill(writer, produce)
            tail = out.flush()
            if sync is not None and tail:
                sync.wrote(tail)
        finally:
            if sync is not None:
                sync.wait()
        header = frame_header(writer.content_size, writer.largest_block)
        file.seek(0, os.SEEK_END)
        if secret is not None:
            file.write(signature_frame(secret, header, body.digest()))
        file.seek(0)
        file.write(header)


def loads(
    s: bytes | bytearray | memoryview,
    trusted: bool = True,
    *,
    key: bytes | None = None,
    max_bytes: int | None = None,
) -> Any:
    """Load an object from an LZ4-compressed pickle byte string; only from a source you trust.

    Unpickling runs whatever code the data names, so bytes from anyone else can do
    anything your process can: for data you did not write yourself pass
    ``trusted=False``, which builds plain data (containers, numbers, strings, numpy
    and JAX arrays) and refuses everything else. ``trusted=True`` stays the
    default so that ``rlu.utils.loads`` is a drop-in for ``coax.utils.loads``.
    The guide "Loading checkpoints safely" says what each mode proves.

    Reads what [`dumps`][rlu_serialize.dumps] wrote, and also what
    ``lz4.frame.compress(cloudpickle.dumps(obj))`` wrote (coax's format). The
    whole frame is decompressed and verified (header, block and content
    checksums, and with ``key`` the signature) before anything is unpickled: a
    damaged or truncated byte string raises
    [`CorruptedDataError`][rlu_serialize.CorruptedDataError] without running a
    byte of it. (Frames without checksums, as coax wrote them, are checked only
    as far as LZ4 can tell; a restricted load refuses them.)

    Parameters
    ----------
    s : bytes-like object
        The LZ4 frame.
    trusted : bool, default True
        If False, interpret the pickle with rlu's restricted machine: it admits
        None, bool, int, float, complex, str, bytes, bytearray, tuple, list, dict,
        set, frozenset, OrderedDict, deque, slice, range, numpy arrays, dtypes and
        scalars (never of object dtype; ml_dtypes' bfloat16 and 8-bit floats
        included) and JAX arrays, built through constructors it controls, and
        refuses everything else with
        [`ForbiddenGlobalError`][rlu_serialize.ForbiddenGlobalError] or
        [`LoadRefusedError`][rlu_serialize.LoadRefusedError]. The frame must carry
        checksums, and what is built is bounded (see ``max_bytes``).
        Typed PRNG keys (``jax.random.key``) are refused; store
        ``jax.random.key_data(key)`` instead.
    key : bytes, optional
        Refuse the data with [`SignatureError`][rlu_serialize.SignatureError]
        unless it was signed with this key (``dumps(obj, key=key)``); checked
        before anything is unpickled.
    max_bytes : int, optional
        Refuse a pickle larger than this many bytes (decompressed) before
        allocating it. Default: no limit when trusted, ``RESTRICTED_MAX_BYTES``
        (4 GiB) when restricted, where the objects built may moreover be
        estimated at most ``max_bytes`` and at most 64 times the pickle's size
        (each plus 1 MiB).

    Returns
    -------
    object
        The loaded object.

    Raises
    ------
    TypeError
        If ``s`` is not bytes-like, ``trusted`` is not a bool, ``key`` is not
        bytes-like or ``max_bytes`` is not an int.
    ValueError
        If ``key`` is shorter than 16 bytes or ``max_bytes`` is negative.
    CorruptedDataError
        If ``s`` is not an intact LZ4 frame.
    LoadRefusedError
        If the data is larger than ``max_bytes``, fails its signature
        (``SignatureError``), or, when ``trusted=False``, holds anything but
        plain data (``ForbiddenGlobalError`` names a refused global).

    Examples
    --------
    >>> import cloudpickle, lz4.frame
    >>> from rlu_serialize import dumps, loads
    >>> loads(lz4.frame.compress(cloudpickle.dumps({"step": 3})))
    {'step': 3}
    >>> loads(dumps({"rewards": [1.0, 0.5]}), trusted=False)
    {'rewards': [1.0, 0.5]}
    """
    view = check_byte_view("s", s)
    check_bool("trusted", trusted)
    name = "the byte string given to loads"
    return _load_from(lambda: ViewStream(view), name, trusted, key, max_bytes, len(view))


def load(
    filepath: str | os.PathLike[str],
    trusted: bool = True,
    *,
    key: bytes | None = None,
    max_bytes: int | None = None,
) -> Any:
    """Load an object from a file written by [`dump`][rlu_serialize.dump]; only a file you trust.

    Unpickling runs whatever code the file names, so a file from anyone else can
    do anything your process can: for a file you did not write yourself pass
    ``trusted=False`` (plain data only, see [`loads`][rlu_serialize.loads]).
    ``trusted=True`` stays the default so that ``rlu.utils.load`` is a drop-in
    for ``coax.utils.load``.

    Also reads files coax wrote (a pickle written through ``lz4.frame.open``).
    The whole frame is decompressed and verified before anything is unpickled;
    a damaged or truncated file raises
    [`CorruptedDataError`][rlu_serialize.CorruptedDataError] naming the file.
    The decompressed pickle is held in memory while it is unpickled and handed
    back piece by piece as it is read, so memory beyond the loaded object stays
    small. A trusted load without a key reads the file through a read-only
    memory map, so the bytes of arrays stored uncompressed (model weights) are
    copied once, from the file's pages into the arrays; the file must not be
    truncated or rewritten in place meanwhile (a truncated map ends the process
    with ``SIGBUS``). ``dump`` never does either: it replaces a file whole.
    Restricted and signed loads copy what they check before they use it.

    Parameters
    ----------
    filepath : str or os.PathLike
        The file to load; ``~`` is expanded.
    trusted : bool, default True
        If False, accept plain data only (see [`loads`][rlu_serialize.loads]).
    key : bytes, optional
        Refuse the file unless it was signed with this key
        (``dump(obj, path, key=key)``); checked before anything is unpickled.
    max_bytes : int, optional
        Refuse a larger pickle (see [`loads`][rlu_serialize.loads]).

    Returns
    -------
    object
        The loaded object.

    Raises
    ------
    TypeError
        If ``filepath`` is not a path, ``trusted`` is not a bool, ``key`` is not
        bytes-like or ``max_bytes`` is not an int.
    ValueError
        If ``filepath`` is empty (also a FileNotFoundError, as coax raised),
        ``key`` is shorter than 16 bytes or ``max_bytes`` is negative.
    FileNotFoundError
        If there is no such file.
    CorruptedDataError
        If the file is not an intact LZ4 frame.
    LoadRefusedError
        If the data is larger than ``max_bytes``, fails its signature, or holds
        anything but plain data when ``trusted=False``.

    Examples
    --------
    >>> import os, tempfile
    >>> from rlu_serialize import dump, load
    >>> path = os.path.join(tempfile.mkdtemp(), "state.pkl.lz4")
    >>> dump({"episode": 7, "returns": [1.5, 2.0]}, path)
    >>> load(path, trusted=False)
    {'episode': 7, 'returns': [1.5, 2.0]}
    """
    path = check_path("filepath", filepath)
    check_bool("trusted", trusted)
    check_key(key)
    check_max_bytes("max_bytes", max_bytes)
    _background.wait_for(path)  # read the checkpoint this program last asked for
    with open(path, "rb", buffering=0) as file:
        total = os.fstat(file.fileno()).st_size
        # A signed load copies what it checks: a map would show the unpickler whatever is
        # written into the file after the signature passed.
        mapped = map_file(file.fileno(), total) if trusted and key is None else None
        if mapped is not None:  # uncompressed blocks go from the map straight into arrays
            try:
                with memoryview(mapped) as whole:
                    return _load_from(
                        lambda: ViewStream(whole),
                        repr(path),
                        trusted,
                        key,
                        max_bytes,
                        total,
                        unmapper(mapped),
                    )
            finally:
                close_map(mapped)

        def reader() -> Any:
            file.seek(0)
            return file

        return _load_from(reader, repr(path), trusted, key, max_bytes, total)
