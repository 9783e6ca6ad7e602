"""Call-heavy workload: small Python functions, methods, closures, generators.

    python call_heavy.py [N]      (N = repetitions, default 15)

Almost every instruction is a call, a return or an argument shuffle, so the
frame-enter / frame-leave events and the CALL instructions dominate.
"""

import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Vector:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, other):
        return Vector(self.x + other.x, self.y + other.y)

    def scaled(self, k=1):
        return Vector(self.x * k, self.y * k)


def make_adder(k):
    def adder(v):
        return v + k

    return adder


def evens(n):
    for i in range(n):
        if i % 2 == 0:
            yield i


def kwargs_call(a, b=2, *, c=3, **rest):
    return a + b + c + len(rest)


def run_once():
    total = fib(22)
    v = Vector(0, 0)
    step = Vector(1, 2)
    for _ in range(20000):
        v = v.add(step).scaled(k=1)
    add3 = make_adder(3)
    total += sum(add3(i) for i in range(20000))
    total += sum(evens(20000))
    for i in range(20000):
        total += kwargs_call(i, c=1, extra=i)
    return total + v.x + v.y


if __name__ == "__main__":
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 15):
        run_once()
