from rlu_core import docstring


def test_copies_the_docstring_and_returns_the_same_object():
    def f(x):
        """Square x."""
        return x * x

    def g(x):
        return 13 - x

    decorated = docstring(f)(g)
    assert decorated is g
    assert g.__doc__ == "Square x."
    assert g(3) == 10


def test_works_on_classes_and_copies_none():
    class A:
        """A's doc."""

    @docstring(A)
    class B:
        """B's doc."""

    assert B.__doc__ == "A's doc."

    def undocumented():
        pass

    @docstring(undocumented)
    def h():
        """h's doc."""

    assert h.__doc__ is None
