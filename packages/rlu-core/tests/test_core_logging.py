import logging

import pytest
from rlu_core import enable_logging

TAG = "_rlu_core_enable_logging"


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for h in root.handlers:
        if h not in handlers:
            h.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def ours(root):
    return sorted(getattr(h, TAG) for h in root.handlers if hasattr(h, TAG))


def stream_handler(root):
    return next(h for h in root.handlers if getattr(h, TAG, None) == "stream")


def test_console_output_with_and_without_name(restore_root_logger, capsys):
    root = restore_root_logger
    enable_logging()
    logging.getLogger("train").info("step %d", 1)
    logging.getLogger("train").debug("hidden")
    assert capsys.readouterr().err == "[train|INFO] step 1\n"

    enable_logging("worker-1", level=logging.DEBUG)
    logging.getLogger("train").debug("shown")
    assert capsys.readouterr().err == "[worker-1|train|DEBUG] shown\n"
    assert ours(root) == ["stream"]


def test_calling_twice_adds_no_duplicate_handlers(restore_root_logger, tmp_path, capsys):
    root = restore_root_logger
    n_before = len(root.handlers)
    path = tmp_path / "run.log"
    for _ in range(3):
        enable_logging("w", output_filepath=path)
    assert len(root.handlers) == n_before + 2
    assert ours(root) == ["file", "stream"]
    logging.getLogger("x").warning("once")
    assert capsys.readouterr().err == "[w|x|WARNING] once\n"
    assert path.read_text() == "[w|x|WARNING] once\n"


def test_file_handler_levels_and_format(restore_root_logger, tmp_path, capsys):
    path = tmp_path / "deep" / "dir" / "run.log"  # parent directories are created
    enable_logging("n", level=logging.WARNING, output_filepath=str(path), output_level="DEBUG")
    log = logging.getLogger("algo")
    log.debug("d")
    log.warning("w")
    # the root logger must let DEBUG through to the file although the console wants WARNING
    assert restore_root_logger.level == logging.DEBUG
    assert capsys.readouterr().err == "[n|algo|WARNING] w\n"
    assert path.read_text() == "[n|algo|DEBUG] d\n[n|algo|WARNING] w\n"


def test_output_level_defaults_to_level(restore_root_logger, tmp_path):
    path = tmp_path / "run.log"
    enable_logging(level=logging.ERROR, output_filepath=path)
    logging.getLogger("a").warning("no")
    logging.getLogger("a").error("yes")
    assert path.read_text() == "[a|ERROR] yes\n"


def test_existing_file_is_appended_to(restore_root_logger, tmp_path):
    path = tmp_path / "run.log"
    path.write_text("earlier run\n")
    enable_logging(output_filepath=path)
    logging.getLogger("a").info("now")
    assert path.read_text() == "earlier run\n[a|INFO] now\n"


def test_new_path_replaces_the_file_handler(restore_root_logger, tmp_path):
    root = restore_root_logger
    first, second = tmp_path / "1.log", tmp_path / "2.log"
    enable_logging(output_filepath=first)
    old = next(h for h in root.handlers if getattr(h, TAG, None) == "file")
    enable_logging(output_filepath=second)
    assert ours(root) == ["file", "stream"]
    assert old not in root.handlers and old.stream is None  # closed
    logging.getLogger("a").info("to second")
    assert first.read_text() == "" and second.read_text() == "[a|INFO] to second\n"

    enable_logging("renamed")  # no path: the file handler stays, with the new format
    logging.getLogger("a").info("again")
    assert second.read_text() == "[a|INFO] to second\n[renamed|a|INFO] again\n"


def test_percent_in_name_is_literal(restore_root_logger, capsys):
    enable_logging("100%s")
    logging.getLogger("a").info("hi")
    assert capsys.readouterr().err == "[100%s|a|INFO] hi\n"


def test_other_handlers_are_left_alone(restore_root_logger):
    root = restore_root_logger
    other = logging.NullHandler()
    root.addHandler(other)
    enable_logging()
    enable_logging(level="DEBUG")
    assert other in root.handlers
    assert stream_handler(root).level == logging.DEBUG


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": 3}, TypeError, "'name' must be a str"),
        ({"level": "LOUD"}, ValueError, "'level' got unknown level name 'LOUD'"),
        ({"level": 2.5}, TypeError, "'level' must be an int"),
        ({"output_level": True}, TypeError, "'output_level' must be an int"),
        ({"output_filepath": 7}, TypeError, "'output_filepath' must be a str"),
    ],
)
def test_bad_arguments_change_nothing(restore_root_logger, kwargs, error, match):
    root = restore_root_logger
    handlers, level = list(root.handlers), root.level
    with pytest.raises(error, match=match):
        enable_logging(**kwargs)
    assert root.handlers == handlers and root.level == level


def test_unopenable_file_changes_nothing(restore_root_logger, tmp_path):
    root = restore_root_logger
    enable_logging(level=logging.WARNING)
    handlers, level = list(root.handlers), root.level
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OSError):
        enable_logging(level=logging.DEBUG, output_filepath=blocker / "sub" / "x.log")
    assert root.handlers == handlers and root.level == level
    assert stream_handler(root).level == logging.WARNING
