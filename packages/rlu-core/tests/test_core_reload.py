import importlib
import os
import sys
import textwrap
import types

import pytest
from rlu_core import reload_recursive


@pytest.fixture
def write(tmp_path, monkeypatch):
    """Write modules below tmp_path (on sys.path); forget them from sys.modules afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # always compile the current source
    before = set(sys.modules)
    stamp = [1_000_000_000]

    def write_file(relpath, source):
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        stamp[0] += 10  # move the time stamp on, whatever the clock's resolution
        os.utime(path, (stamp[0], stamp[0]))
        importlib.invalidate_caches()

    yield write_file
    for name in set(sys.modules) - before:
        del sys.modules[name]


def make_package(write, value):
    write("extmod.py", "EXT = 'ext-1'\n")
    write(
        "pkg/__init__.py",
        """
        import os
        import extmod
        from .a import f
        from .b import VALUE
        """,
    )
    write(
        "pkg/a.py",
        """
        from .b import g

        def f():
            return g()
        """,
    )
    write(
        "pkg/b.py",
        f"""
        VALUE = {value!r}

        def g():
            return VALUE
        """,
    )


def test_changed_submodule_is_picked_up_through_from_imports(write):
    make_package(write, "one")
    import pkg

    assert (pkg.f(), pkg.VALUE) == ("one", "one")

    write("pkg/b.py", "VALUE = 'two'\n\ndef g():\n    return 'g:' + VALUE\n")
    reloaded = reload_recursive(pkg)
    assert (pkg.f(), pkg.VALUE) == ("g:two", "two")  # pkg.a's `g` is the new one

    # dependencies first: b before a (which imports from b), the package itself last
    assert reloaded.index("pkg.b") < reloaded.index("pkg.a") < reloaded.index("pkg")
    assert reloaded[-1] == "pkg"
    assert sorted(reloaded) == ["pkg", "pkg.a", "pkg.b"]  # no external module, no stdlib


def test_module_given_by_name(write):
    make_package(write, 1)
    import pkg

    write("pkg/b.py", "VALUE = 2\n\ndef g():\n    return VALUE\n")
    reload_recursive("pkg")
    assert pkg.f() == 2


def test_name_of_a_module_not_imported_yet(write):
    make_package(write, 1)
    assert "pkg" not in sys.modules
    reload_recursive("pkg.a")
    assert sys.modules["pkg.a"].f() == 1


def test_external_modules_only_on_request(write):
    make_package(write, 1)
    import pkg

    write("extmod.py", "EXT = 'ext-2'\n")
    reload_recursive(pkg)
    assert pkg.extmod.EXT == "ext-1"

    reloaded = reload_recursive(pkg, reload_external_modules=True)
    assert pkg.extmod.EXT == "ext-2"
    assert "extmod" in reloaded
    assert "os" not in reloaded  # the standard library is never reloaded


def test_sibling_package_with_a_common_prefix_is_external(write):
    write("pkg/__init__.py", "import pkgextra\n")
    write("pkgextra.py", "X = 1\n")
    import pkg

    assert reload_recursive(pkg) == ["pkg"]


def test_import_cycles_terminate(write):
    write("cyc/__init__.py", "from . import x\n")
    write("cyc/x.py", "from . import y\nX = 1\n")
    write("cyc/y.py", "from . import x\nY = 1\n")
    import cyc

    write("cyc/y.py", "from . import x\nY = 2\n")
    reloaded = reload_recursive(cyc)
    assert sorted(reloaded) == ["cyc", "cyc.x", "cyc.y"]
    assert cyc.x.y.Y == 2


@pytest.mark.parametrize("bad", [None, 3, types])
def test_bad_module_argument(bad):
    if bad is types:
        with pytest.raises(TypeError, match="'reload_external_modules' must be a bool"):
            reload_recursive(types, reload_external_modules="yes")
    else:
        with pytest.raises(TypeError, match="'module' must be a module or its dotted name"):
            reload_recursive(bad)
