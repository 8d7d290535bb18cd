"""dump, dumps, load and loads: any Python object as an LZ4-compressed pickle.

Objects are pickled with cloudpickle (protocol 5), so lambdas, closures and
other functions defined at run time are included. The result is one standard
LZ4 frame holding that pickle, so ``cloudpickle.loads(lz4.frame.decompress(s))``
and the ``lz4`` command-line tool read it, and [`loads`][rlu_serialize.loads] / [`load`][rlu_serialize.load] read
what ``lz4.frame.compress(cloudpickle.dumps(obj))`` or ``lz4.frame.open`` wrote.

.. warning::
   Loading a pickle can run arbitrary code: a crafted file can do anything your
   Python process can. Load only files you trust, or pass ``trusted=False`` to
   accept plain data only (builtin containers and scalars, numpy arrays, dtypes
   and scalars, JAX arrays).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from rlu_serialize._atomic import BackgroundSync, atomic_write
from rlu_serialize._checks import as_byte_view, as_path, check_trusted
from rlu_serialize._errors import CorruptedDataError
from rlu_serialize._frame import HEADER_SIZE, FrameReader, FrameWriter, frame_header

_PROTOCOL = 5


def _pickle_into(obj: Any, writer: FrameWriter) -> None:
    import cloudpickle

    try:
        cloudpickle.CloudPickler(writer, protocol=_PROTOCOL).dump(obj)
        writer.close()
    except BaseException:
        writer.abort()
        raise


def _unpickle(reader: FrameReader, trusted: bool) -> Any:
    if trusted:
        unpickler: pickle.Unpickler = pickle.Unpickler(reader)
    else:
        from rlu_serialize._restricted import RestrictedUnpickler

        unpickler = RestrictedUnpickler(reader)
    try:
        obj = unpickler.load()
    except CorruptedDataError:
        raise
    except Exception as exc:
        # A damaged frame can decode to a damaged pickle: check the rest of the
        # frame before blaming the pickle.
        problem = reader.drain()
        if problem is not None:
            raise problem from exc
        raise
    reader.finish()
    return obj


def dumps(obj: Any) -> bytes:
    """Serialize an object to an LZ4-compressed pickle byte string.

    References between objects are preserved within one call, not across calls:
    ``dumps((a, b))`` keeps ``b``'s reference to ``a``, while ``dumps(a)`` and
    ``dumps(b)`` separately give two independent copies of ``a``. Store a whole
    state as one object (a dict or a tuple) to keep it consistent.

    The byte string is one standard LZ4 frame (block checksums, content size and
    content checksum) holding a cloudpickle pickle, protocol 5. Large buffers
    such as array data are compressed straight from the object's memory, on
    several threads at once.

    Parameters
    ----------
    obj : object
        Any object cloudpickle can pickle, including lambdas and closures.

    Returns
    -------
    bytes
        The LZ4 frame.

    Raises
    ------
    pickle.PicklingError, TypeError
        If ``obj`` or something it references cannot be pickled.

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
    pieces: list[bytes] = [b""]

    def emit(piece: Any) -> None:
        pieces.append(piece if isinstance(piece, bytes) else bytes(piece))

    writer = FrameWriter(emit)
    _pickle_into(obj, writer)
    pieces[0] = frame_header(writer.content_size, writer.largest_block)
    return b"".join(pieces)


def dump(obj: Any, filepath: str | os.PathLike[str]) -> None:
    """Save an object to a file as an LZ4-compressed pickle.

    The file holds exactly what [`dumps`][rlu_serialize.dumps] returns, written as a stream
    (the pickle and its compressed copy never exist in memory as a whole).
    Missing parent directories are created and ``~`` is expanded.

    The write is atomic: the data goes to a temporary file in the same
    directory, which is flushed, fsynced and then renamed over ``filepath``. If
    the dump fails halfway (an object that cannot be pickled, a full disk, a
    crash), the previous file at ``filepath`` stays as it was and no temporary
    file is left behind.

    References between objects are preserved within one call, not across calls
    (see [`dumps`][rlu_serialize.dumps]): store a whole state as one object.

    Parameters
    ----------
    obj : object
        Any object cloudpickle can pickle.
    filepath : str or os.PathLike
        Where to store the object.

    Raises
    ------
    TypeError
        If ``filepath`` is not a path.
    ValueError
        If ``filepath`` is empty (also a FileNotFoundError, as coax raised).
    pickle.PicklingError, TypeError
        If ``obj`` cannot be pickled; ``filepath`` is then unchanged.
    OSError
        If the file cannot be written; ``filepath`` is then unchanged.

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
    """
    path = as_path(filepath)
    with atomic_write(path) as file:
        sync = BackgroundSync(file.fileno())

        def emit(piece: Any) -> None:
            sync.wrote(file.write(piece))

        try:
            file.write(bytes(HEADER_SIZE))  # the header is written once the size is known
            writer = FrameWriter(emit)
            _pickle_into(obj, writer)
        finally:
            sync.wait()
        file.seek(0)
        file.write(frame_header(writer.content_size, writer.largest_block))


def loads(s: bytes | bytearray | memoryview, trusted: bool = True) -> Any:
    """Load an object from an LZ4-compressed pickle byte string.

    Reads what [`dumps`][rlu_serialize.dumps] wrote, and also what
    ``lz4.frame.compress(cloudpickle.dumps(obj))`` wrote (coax's format). The
    LZ4 frame is decompressed in pieces and verified as it is read: a damaged or
    truncated byte string raises [`CorruptedDataError`][rlu_serialize.CorruptedDataError]
    instead of returning a wrong object. (Frames without a content checksum, as
    coax wrote them, are checked only as far as LZ4 and pickle can tell.)

    .. warning::
       Unpickling can run arbitrary code. Use ``trusted=False`` for data you do
       not trust.

    Parameters
    ----------
    s : bytes-like
        The LZ4 frame.
    trusted : bool, default True
        If False, resolve only the globals plain data needs (builtin containers
        and scalars, numpy arrays, dtypes and scalars, JAX arrays) and refuse
        every other with [`ForbiddenGlobalError`][rlu_serialize.ForbiddenGlobalError]. Typed
        PRNG keys (``jax.random.key``) carry an implementation object and are
        refused; store ``jax.random.key_data(key)`` instead.

    Returns
    -------
    object
        The loaded object.

    Raises
    ------
    TypeError
        If ``s`` is not bytes-like or ``trusted`` is not a bool.
    CorruptedDataError
        If ``s`` is not an intact LZ4 frame.
    ForbiddenGlobalError
        If ``trusted=False`` and the pickle names a global that is not allowed.

    Examples
    --------
    >>> import cloudpickle, lz4.frame
    >>> from rlu_serialize import dumps, loads
    >>> loads(lz4.frame.compress(cloudpickle.dumps({"step": 3})))
    {'step': 3}
    >>> loads(dumps({"rewards": [1.0, 0.5]}), trusted=False)
    {'rewards': [1.0, 0.5]}
    """
    view = as_byte_view(s)
    check_trusted(trusted)
    position = 0

    def read(size: int) -> memoryview:
        nonlocal position
        chunk = view[position : position + size]
        position += len(chunk)
        return chunk

    return _unpickle(FrameReader(read, "the byte string given to loads"), trusted)


def load(filepath: str | os.PathLike[str], trusted: bool = True) -> Any:
    """Load an object from a file written by [`dump`][rlu_serialize.dump].

    Also reads files coax wrote (a pickle written through ``lz4.frame.open``).
    The file is read, decompressed and verified as a stream, so memory beyond
    the loaded object stays small. A damaged or truncated file raises
    [`CorruptedDataError`][rlu_serialize.CorruptedDataError] naming the file.

    .. warning::
       Unpickling can run arbitrary code. Use ``trusted=False`` for files you do
       not trust.

    Parameters
    ----------
    filepath : str or os.PathLike
        The file to load; ``~`` is expanded.
    trusted : bool, default True
        If False, accept plain data only (see [`loads`][rlu_serialize.loads]).

    Returns
    -------
    object
        The loaded object.

    Raises
    ------
    TypeError
        If ``filepath`` is not a path or ``trusted`` is not a bool.
    ValueError
        If ``filepath`` is empty (also a FileNotFoundError, as coax raised).
    FileNotFoundError
        If there is no such file.
    CorruptedDataError
        If the file is not an intact LZ4 frame.
    ForbiddenGlobalError
        If ``trusted=False`` and the pickle names a global that is not allowed.

    Examples
    --------
    >>> import os, tempfile
    >>> from rlu_serialize import dump, load
    >>> path = os.path.join(tempfile.mkdtemp(), "state.pkl.lz4")
    >>> dump({"episode": 7, "returns": [1.5, 2.0]}, path)
    >>> load(path, trusted=False)
    {'episode': 7, 'returns': [1.5, 2.0]}
    """
    path = as_path(filepath)
    check_trusted(trusted)
    with open(path, "rb", buffering=0) as file:
        return _unpickle(FrameReader(file.read, repr(path)), trusted)
