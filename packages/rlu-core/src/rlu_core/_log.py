"""Turn on logging output to the console and, optionally, to a file."""

from __future__ import annotations

import logging
import os
import sys

from rlu_core._checks import check_level, check_optional_path, check_optional_str

# Handlers installed by enable_logging carry this attribute, so that a second call finds and
# reconfigures them instead of stacking duplicates. Its value is "stream" or "file".
_TAG = "_rlu_core_enable_logging"


def enable_logging(
    name: str | None = None,
    level: int | str = logging.INFO,
    output_filepath: str | os.PathLike[str] | None = None,
    output_level: int | str | None = None,
) -> None:
    """Enable logging output on the root logger.

    Installs a ``logging.StreamHandler`` (to ``sys.stderr``) on the root logger at ``level``
    with the format ``[name|logger|LEVEL] message`` (``[logger|LEVEL] message`` without a
    ``name``), much like ``logging.basicConfig(level=level)``, and, if ``output_filepath`` is
    given, a ``logging.FileHandler`` with the same format at ``output_level``. The root
    logger's own level is set to the lower of the two, so that each handler sees everything it
    asks for.

    Calling it again reconfigures rather than adds: there is only ever one console handler and
    at most one file handler installed by this function. A new ``output_filepath`` replaces the
    previous file handler (closing it); leaving ``output_filepath`` out keeps the file handler
    that is already there. Handlers installed by anything else are left alone.

    Parameters
    ----------
    name : str, optional
        The name of the process that is logging; it prefixes every message. Any text works.
    level : int or str, optional
        The level of the console handler, e.g. ``logging.DEBUG`` (10) or ``"DEBUG"``.
        Defaults to ``logging.INFO`` (20).
    output_filepath : str or os.PathLike, optional
        If given, log to this file too. Missing parent directories are created; an existing
        file is appended to, never truncated.
    output_level : int or str, optional
        The level of the file handler. Defaults to ``level``.

    Raises
    ------
    TypeError
        If ``name`` is not a str, or a level is neither an int nor a str.
    ValueError
        If a level is a str that is not a known level name.

    Examples
    --------
    Log warnings to the console and everything from INFO up to a file as well:

    >>> import logging, pathlib, tempfile
    >>> from rlu_core import enable_logging
    >>> logfile = pathlib.Path(tempfile.mkdtemp()) / "logs" / "run.log"
    >>> enable_logging("worker-1", level="WARNING", output_filepath=logfile, output_level="INFO")
    >>> logging.getLogger("train").info("step 1")  # below WARNING: to the file only
    >>> print(logfile.read_text(), end="")
    [worker-1|train|INFO] step 1

    Calling it again reconfigures the same handlers instead of adding new ones:

    >>> enable_logging("worker-1", level="WARNING", output_filepath=logfile, output_level="INFO")
    >>> sum(hasattr(h, "_rlu_core_enable_logging") for h in logging.getLogger().handlers)
    2
    """
    name = check_optional_str("name", name, where="enable_logging")
    level = check_level("level", level, where="enable_logging")
    if output_level is None:
        output_level = level
    else:
        output_level = check_level("output_level", output_level, where="enable_logging")
    output_filepath = check_optional_path(
        "output_filepath", output_filepath, where="enable_logging"
    )

    if name is None:
        fmt = "[%(name)s|%(levelname)s] %(message)s"
    else:  # '%' in the name is text, not a placeholder
        fmt = "[" + name.replace("%", "%%") + "|%(name)s|%(levelname)s] %(message)s"
    formatter = logging.Formatter(fmt)

    root = logging.getLogger()
    ours = {getattr(h, _TAG): h for h in root.handlers if hasattr(h, _TAG)}
    file_handler = ours.get("file")

    # Open a new file first: if that fails, the logging setup is left exactly as it was.
    new_file_handler = None
    if output_filepath is not None:
        path = os.path.abspath(os.fspath(output_filepath))
        if not (
            isinstance(file_handler, logging.FileHandler) and file_handler.baseFilename == path
        ):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            new_file_handler = logging.FileHandler(path)  # opens in append mode
            setattr(new_file_handler, _TAG, "file")

    stream = ours.get("stream")
    if stream is None:
        stream = logging.StreamHandler(sys.stderr)
        setattr(stream, _TAG, "stream")
        root.addHandler(stream)
    stream.setLevel(level)
    stream.setFormatter(formatter)

    if new_file_handler is not None:
        if file_handler is not None:
            root.removeHandler(file_handler)
            file_handler.close()
        root.addHandler(new_file_handler)
        file_handler = new_file_handler
    if file_handler is not None:
        if output_filepath is not None:
            file_handler.setLevel(output_level)
        file_handler.setFormatter(formatter)

    root.setLevel(min([stream.level] + ([] if file_handler is None else [file_handler.level])))
