import dataclasses
import subprocess
import sys
import textwrap
from collections import OrderedDict, namedtuple

import pytest
from rlu_core import pretty_print, pretty_repr

np = pytest.importorskip("numpy")

Transition = namedtuple("Transition", "S A R")


def test_numpy_array_summary():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert pretty_repr(x) == "array(shape=(2, 3), dtype=float32, min=0, median=2.5, max=5)"


def test_summary_uses_three_significant_digits():
    x = np.array([0.123456, 1234567.0, -2.5e-7])
    assert pretty_repr(x) == (
        "array(shape=(3,), dtype=float64, min=-2.5e-07, median=0.123, max=1.23e+06)"
    )


def test_arrays_without_a_numeric_summary():
    assert pretty_repr(np.zeros((0, 3))) == "array(shape=(0, 3), dtype=float64)"
    assert pretty_repr(np.array(["a", "b"])) == "array(shape=(2,), dtype=<U1)"
    assert pretty_repr(np.array([None, 1], dtype=object)) == "array(shape=(2,), dtype=object)"


def test_numpy_scalars_and_array_classes_use_plain_repr():
    assert pretty_repr(np.float32(1.5)) == repr(np.float32(1.5))
    assert pretty_repr(np.ndarray) == repr(np.ndarray)


def test_namedtuple_one_field_per_line():
    t = Transition(S=np.ones((2, 4)), A=np.array([0, 1]), R=None)
    assert pretty_repr(t) == textwrap.dedent(
        """\
        Transition(
          S=array(shape=(2, 4), dtype=float64, min=1, median=1, max=1),
          A=array(shape=(2,), dtype=int64, min=0, median=0.5, max=1),
          R=None,
        )"""
    )


def test_nested_containers_indent_by_depth():
    obj = {"a": [1, {"b": np.zeros(3)}], "c": (Transition(1, 2, 3),)}
    assert pretty_repr(obj) == textwrap.dedent(
        """\
        {
          'a': [
            1,
            {
              'b': array(shape=(3,), dtype=float64, min=0, median=0, max=0),
            },
          ],
          'c': (
            Transition(S=1, A=2, R=3),
          ),
        }"""
    )


def test_depth_argument_indents_items_and_closing_bracket():
    assert pretty_repr([np.zeros(1)], d=2) == (
        "[\n      array(shape=(1,), dtype=float64, min=0, median=0, max=0),\n    ]"
    )


def test_flat_small_containers_stay_on_one_line():
    assert pretty_repr({"x": 1, "y": "two"}) == "{'x': 1, 'y': 'two'}"
    assert pretty_repr([1, 2, 3]) == "[1, 2, 3]"
    assert pretty_repr((1,)) == "(1,)"
    assert pretty_repr(()) == "()"
    assert pretty_repr([]) == "[]"
    assert pretty_repr({}) == "{}"
    assert pretty_repr(Transition(1, [], {})) == "Transition(S=1, A=[], R={})"


def test_long_flat_container_breaks_into_lines():
    out = pretty_repr(list(range(40)))
    assert out.startswith("[\n  0,\n  1,\n") and out.endswith("\n  39,\n]")


def test_other_mappings_show_their_type():
    assert pretty_repr(OrderedDict(a=1)) == "OrderedDict({'a': 1})"


def test_dataclass_fields():
    @dataclasses.dataclass
    class Config:
        lr: float
        layers: list
        secret: str = dataclasses.field(default="x", repr=False)

    out = pretty_repr(Config(0.1, [Config(0.2, [])]))
    assert out == "Config(\n  lr=0.1,\n  layers=[\n    Config(lr=0.2, layers=[]),\n  ],\n)"
    assert "secret" not in out


def test_dataclass_class_itself_is_not_expanded():
    @dataclasses.dataclass
    class Empty:
        pass

    assert pretty_repr(Empty) == repr(Empty)
    assert pretty_repr(Transition) == repr(Transition)


def test_record_whose_repr_calls_pretty_repr():
    # the pattern of TransitionBatch: a record with _asdict() and __repr__ = pretty_repr(self)
    class Batch:
        __slots__ = ("S", "Rn")

        def __init__(self, S, Rn):
            self.S, self.Rn = S, Rn

        def _asdict(self):
            return {k: getattr(self, k) for k in self.__slots__}

        def __repr__(self):
            return pretty_repr(self)

    b = Batch(np.ones((3, 2), dtype=np.float32), np.array([1.0, 2.0, 3.0]))
    assert repr(b) == textwrap.dedent(
        """\
        Batch(
          S=array(shape=(3, 2), dtype=float32, min=1, median=1, max=1),
          Rn=array(shape=(3,), dtype=float64, min=1, median=2, max=3),
        )"""
    )
    assert repr([b]).startswith("[Batch(\n  S=array(")


def test_self_referencing_containers_terminate():
    x = [1]
    x.append(x)
    assert pretty_repr(x) == "[\n  1,\n  [...],\n]"
    d = {}
    d["d"] = d
    assert pretty_repr(d) == "{\n  'd': {...},\n}"


def test_shared_but_not_recursive_objects_are_shown_each_time():
    inner = [1, 2]
    assert pretty_repr([inner, inner]) == "[\n  [1, 2],\n  [1, 2],\n]"


def test_duck_typed_array_like():
    class FakeTensor:
        shape = (5, 2)
        dtype = "bfloat16"

    assert pretty_repr(FakeTensor()) == "array(shape=(5, 2), dtype=bfloat16)"


def test_objects_with_a_non_iterable_shape_are_not_arrays():
    class Weird:
        shape = 3
        dtype = "x"

        def __repr__(self):
            return "Weird()"

    assert pretty_repr(Weird()) == "Weird()"


def test_jax_arrays_and_tracers():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    assert pretty_repr(jnp.arange(4.0)) == (
        "array(shape=(4,), dtype=float32, min=0, median=1.5, max=3)"
    )
    assert pretty_repr(jax.ShapeDtypeStruct((2, 3), jnp.int32)) == (
        "array(shape=(2, 3), dtype=int32)"
    )
    seen = []

    @jax.jit
    def f(x):
        seen.append(pretty_repr({"x": x}))
        return x * 2

    f(jnp.ones((2, 2)))
    assert seen == ["{\n  'x': array(shape=(2, 2), dtype=float32),\n}"]


def test_pretty_print_prints_the_repr(capsys):
    pretty_print({"a": np.zeros(2)})
    assert capsys.readouterr().out == (
        "{\n  'a': array(shape=(2,), dtype=float64, min=0, median=0, max=0),\n}\n"
    )


@pytest.mark.parametrize("d", [-1, 1.0, "0", True])
def test_bad_depth_is_rejected(d):
    with pytest.raises((TypeError, ValueError), match="'d'"):
        pretty_repr([], d=d)


def test_imports_neither_numpy_nor_jax_and_works_without_numpy():
    code = textwrap.dedent(
        """
        import sys
        from rlu_core import pretty_repr

        class Arr:
            shape = (3,)
            dtype = "float32"
            def min(self): return -1.0
            def max(self): return 2.0

        out = pretty_repr({"a": Arr()})
        heavy = [m for m in ("numpy", "jax", "pandas") if m in sys.modules]
        assert not heavy, heavy
        print(out)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "{\n  'a': array(shape=(3,), dtype=float32, min=-1, max=2),\n}\n"


def test_depth_accepts_numpy_integers():
    assert pretty_repr([np.zeros(1)], d=np.int64(2)) == pretty_repr([np.zeros(1)], d=2)
