"""Alert conditions written once, rendered twice: as PromQL for Prometheus and as a
Python evaluation over :class:`~leadwatch.alerting.history.History` for the
embedded evaluator. Because both come from the same tree, the two modes cannot
drift apart; the promtool unit tests generated from alerting/scenarios.py (run by
tests/alerting/test_rules.py) check them against Prometheus.

Only the PromQL the catalogue needs is modelled: ``sum by (...) (rate(...))``,
``increase`` with ``offset``, gauge aggregations, ``avg_over_time``,
``histogram_quantile``, arithmetic, comparisons and ``and``/``or``.
A vector is a dict from a sorted tuple of label pairs to a float, as in PromQL.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from leadwatch.alerting.history import History

Labels = tuple[tuple[str, str], ...]
Vector = dict[Labels, float]
MatchOp = Literal["=", "!=", "=~", "!~"]

_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def duration(seconds: float) -> str:
    """Prometheus duration text: 300 -> ``5m``, 86400 -> ``1d``."""
    seconds = int(seconds)
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_duration(text: str) -> int:
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if not match:
        raise ValueError(f"not a duration like 30s, 5m, 1h, 1d, 1w: {text!r}")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}[match.group(2)]


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass(frozen=True)
class Selector:
    """``metric{label op "value", ...}``; regexes are anchored, as in PromQL."""

    metric: str
    matchers: tuple[tuple[str, MatchOp, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Selector:
        match = _SELECTOR.match(text)
        if not match:
            raise ValueError(f"not a selector like name{{label=\"value\"}}: {text!r}")
        body = match.group(2) or ""
        matchers: list[tuple[str, MatchOp, str]] = []
        pos = 0
        while pos < len(body.strip()):
            m = _MATCHER.match(body, pos)
            if not m:
                raise ValueError(f"bad label matcher in {text!r}")
            matchers.append((m.group(1), m.group(2), m.group(3)))  # type: ignore[arg-type]
            pos = m.end()
        return cls(match.group(1), tuple(matchers))

    def with_metric(self, metric: str, *extra: tuple[str, MatchOp, str]) -> Selector:
        return Selector(metric, self.matchers + extra)

    def promql(self) -> str:
        if not self.matchers:
            return self.metric
        inner = ",".join(f'{label}{op}"{value}"' for label, op, value in self.matchers)
        return f"{self.metric}{{{inner}}}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return labels_match(self.matchers, labels)


def labels_match(matchers: Iterable[Sequence[str]], labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy every ``(label, op, value)`` matcher (regexes anchored);
    for selectors and for silences alike."""
    for label, op, value in matchers:
        have = labels.get(label, "")
        if op == "=" and have != value or op == "!=" and have == value:
            return False
        if op in ("=~", "!~") and (re.fullmatch(value, have) is not None) != (op == "=~"):
            return False
    return True


@dataclass(frozen=True)
class Input:
    """One series group the history keeps: a counter's summed increases, or a gauge
    aggregated with ``agg``, per value of the ``by`` labels."""

    selector: Selector
    by: tuple[str, ...]
    kind: Literal["counter", "gauge"]
    agg: str = "sum"


@dataclass(frozen=True)
class Context:
    history: History
    at: float  # unix seconds of the evaluation


class Expr:
    def promql(self) -> str:
        raise NotImplementedError

    def evaluate(self, ctx: Context) -> Vector:
        raise NotImplementedError

    def inputs(self) -> Iterator[tuple[Input, float]]:
        """Every input with the longest look-back (seconds) this expression needs."""
        return iter(())

    # Operators build the tree: ``errors / total > 0.01``.
    def __truediv__(self, other: Expr | float) -> Expr:
        return Binary("/", self, _lift(other))

    def __mul__(self, other: Expr | float) -> Expr:
        return Binary("*", self, _lift(other))

    def __add__(self, other: Expr | float) -> Expr:
        return Binary("+", self, _lift(other))

    def __rsub__(self, other: float) -> Expr:
        return Binary("-", _lift(other), self)

    def __gt__(self, other: Expr | float) -> Expr:  # type: ignore[override]
        return Binary(">", self, _lift(other))

    def __lt__(self, other: Expr | float) -> Expr:  # type: ignore[override]
        return Binary("<", self, _lift(other))

    def __ge__(self, other: Expr | float) -> Expr:  # type: ignore[override]
        return Binary(">=", self, _lift(other))

    def eq(self, other: float) -> Expr:
        return Binary("==", self, _lift(other))

    def and_(self, other: Expr, on: tuple[str, ...] | None = None) -> Expr:
        return Binary("and", self, other, on=on)

    def or_(self, other: Expr) -> Expr:
        return Binary("or", self, other)


def _lift(value: Expr | float) -> Expr:
    return value if isinstance(value, Expr) else Scalar(float(value))


def key_of(labels: Mapping[str, str], by: tuple[str, ...]) -> Labels:
    return tuple(sorted((k, labels.get(k, "")) for k in by if labels.get(k, "") != ""))


@dataclass(frozen=True)
class Scalar(Expr):
    value: float

    def promql(self) -> str:
        return _number(self.value)

    def evaluate(self, ctx: Context) -> Vector:
        return {(): self.value}


def _by(by: tuple[str, ...]) -> str:
    return f" by ({', '.join(by)})" if by else ""


def _offset(offset: float) -> str:
    return f" offset {duration(offset)}" if offset else ""


@dataclass(frozen=True)
class SumRate(Expr):
    """``sum by (by) (rate(selector[window]))`` (or ``increase``), optionally offset."""

    selector: Selector
    window: float
    by: tuple[str, ...] = ()
    offset: float = 0
    function: Literal["rate", "increase"] = "rate"

    def promql(self) -> str:
        inner = f"{self.function}({self.selector.promql()}[{duration(self.window)}]{_offset(self.offset)})"
        return f"sum{_by(self.by)} ({inner})"

    @property
    def input(self) -> Input:
        return Input(self.selector, self.by, "counter")

    def inputs(self) -> Iterator[tuple[Input, float]]:
        yield self.input, self.window + self.offset

    def evaluate(self, ctx: Context) -> Vector:
        end = ctx.at - self.offset
        out: Vector = {}
        for labels, points in ctx.history.window(self.input, end - self.window, end).items():
            if len(points) < 2:
                continue  # as in Prometheus: a rate needs two samples in the window
            increase = extrapolated_increase(points, end - self.window, end)
            out[labels] = increase / self.window if self.function == "rate" else increase
        return out


def extrapolated_increase(points: list[tuple[float, float]], start: float, end: float) -> float:
    """A counter's increase over [start, end] from its samples, extrapolated towards the
    window's edges the way Prometheus' ``increase`` does (not below zero, and by at
    most half a sample interval where the samples stop well short of an edge)."""
    (t0, v0), (t1, v1) = points[0], points[-1]
    sampled = t1 - t0
    increase = v1 - v0
    to_start, to_end = t0 - start, end - t1
    if increase > 0 and v0 >= 0:
        to_start = min(to_start, sampled * (v0 / increase))
    average = sampled / (len(points) - 1)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    return increase * (interval / sampled)


@dataclass(frozen=True)
class Aggregate(Expr):
    """``agg by (by) (selector)`` over a gauge's latest values (five-minute look-back)."""

    selector: Selector
    agg: Literal["sum", "max", "min", "avg"] = "sum"
    by: tuple[str, ...] = ()

    LOOKBACK = 300.0

    def promql(self) -> str:
        return f"{self.agg}{_by(self.by)} ({self.selector.promql()})"

    @property
    def input(self) -> Input:
        return Input(self.selector, self.by, "gauge", self.agg)

    def inputs(self) -> Iterator[tuple[Input, float]]:
        yield self.input, self.LOOKBACK

    def evaluate(self, ctx: Context) -> Vector:
        window = ctx.history.window(self.input, ctx.at - self.LOOKBACK, ctx.at)
        return {labels: points[-1][1] for labels, points in window.items() if points}


@dataclass(frozen=True)
class AvgOverTime(Expr):
    """``avg by (by) (avg_over_time(selector[window]))`` of a gauge."""

    selector: Selector
    window: float
    by: tuple[str, ...] = ()

    def promql(self) -> str:
        return f"avg{_by(self.by)} (avg_over_time({self.selector.promql()}[{duration(self.window)}]))"

    @property
    def input(self) -> Input:
        return Input(self.selector, self.by, "gauge", "avg")

    def inputs(self) -> Iterator[tuple[Input, float]]:
        yield self.input, self.window

    def evaluate(self, ctx: Context) -> Vector:
        window = ctx.history.window(self.input, ctx.at - self.window, ctx.at)
        return {k: sum(v for _, v in pts) / len(pts) for k, pts in window.items() if pts}


@dataclass(frozen=True)
class Quantile(Expr):
    """``histogram_quantile(q, sum by (le, by) (rate(<metric>_bucket[window])))``."""

    q: float
    selector: Selector  # the histogram's name (without _bucket) and matchers
    window: float
    by: tuple[str, ...] = ()

    @property
    def rate(self) -> SumRate:
        bucket = self.selector.with_metric(self.selector.metric + "_bucket")
        return SumRate(bucket, self.window, ("le", *self.by))

    def promql(self) -> str:
        return f"histogram_quantile({_number(self.q)}, {self.rate.promql()})"

    def inputs(self) -> Iterator[tuple[Input, float]]:
        return self.rate.inputs()

    def evaluate(self, ctx: Context) -> Vector:
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for labels, value in self.rate.evaluate(ctx).items():
            le = dict(labels).get("le")
            if le is None:
                continue
            rest = tuple(p for p in labels if p[0] != "le")
            groups.setdefault(rest, []).append((float(le), value))
        return {k: bucket_quantile(self.q, buckets) for k, buckets in groups.items()}


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile on (upper bound, cumulative count) pairs."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][0] != math.inf:
        return math.nan
    total = buckets[-1][1]
    if total <= 0 or len(buckets) < 2:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    upper, count = buckets[index]
    lower, below = (0.0, 0.0) if index == 0 else buckets[index - 1]
    if index == 0 and upper <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / (count - below)


@dataclass(frozen=True)
class Recorded(Expr):
    """A series that a recording rule stores under ``name`` with ``labels``: PromQL
    reads the recorded series (``max without (drop)`` it), Python evaluates ``source``."""

    name: str
    labels: tuple[tuple[str, str], ...]
    source: Expr
    drop: tuple[str, ...] = ()

    def promql(self) -> str:
        selector = Selector(self.name, tuple((k, "=", v) for k, v in self.labels if k not in self.drop))
        if not self.drop:
            return selector.promql()
        return f"max without ({', '.join(self.drop)}) ({selector.promql()})"

    def inputs(self) -> Iterator[tuple[Input, float]]:
        return self.source.inputs()

    def evaluate(self, ctx: Context) -> Vector:
        kept = tuple(sorted((k, v) for k, v in self.labels if k not in self.drop))
        values = self.source.evaluate(ctx)
        return {kept: value for value in values.values()} if len(values) == 1 else {}


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda a, b: a / b if b else (math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)),
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    on: tuple[str, ...] | None = None  # match only on these labels (``on()``)
    ignoring: tuple[str, ...] = field(default=())
    # Many-to-one: several left series may meet the same right one (a per-site rate
    # against one target); evaluation already allows it, PromQL must be told.
    group_left: bool = False

    def promql(self) -> str:
        matching = (
            f" on({', '.join(self.on)})" if self.on is not None
            else f" ignoring({', '.join(self.ignoring)})" if self.ignoring else ""
        ) + (" group_left" if self.group_left else "")
        return f"({self.left.promql()} {self.op}{matching} {self.right.promql()})"

    def inputs(self) -> Iterator[tuple[Input, float]]:
        yield from self.left.inputs()
        yield from self.right.inputs()

    def _match(self, labels: Labels) -> Labels:
        if self.on is not None:
            return tuple(p for p in labels if p[0] in self.on)
        return tuple(p for p in labels if p[0] not in self.ignoring)

    def evaluate(self, ctx: Context) -> Vector:
        left = self.left.evaluate(ctx)
        right = self.right.evaluate(ctx)
        scalar_right = isinstance(self.right, Scalar)
        scalar_left = isinstance(self.left, Scalar)
        if self.op in ("and", "or"):
            keys = {self._match(k) for k in right}
            if self.op == "and":
                return {k: v for k, v in left.items() if self._match(k) in keys}
            taken = {self._match(k) for k in left}
            return {**left, **{k: v for k, v in right.items() if self._match(k) not in taken}}
        pairs: Iterator[tuple[Labels, float, float]]
        if scalar_right:
            pairs = ((k, v, self.right.value) for k, v in left.items())  # type: ignore[attr-defined]
        elif scalar_left:
            pairs = ((k, self.left.value, v) for k, v in right.items())  # type: ignore[attr-defined]
        else:
            by_match = {self._match(k): v for k, v in right.items()}
            pairs = ((k, v, by_match[self._match(k)]) for k, v in left.items() if self._match(k) in by_match)
        out: Vector = {}
        for labels, a, b in pairs:
            if self.op in _COMPARE:
                if _COMPARE[self.op](a, b):
                    out[labels] = a  # a comparison filters, keeping the left-hand value
            else:
                out[labels] = _ARITH[self.op](a, b)
        return out


def retention(exprs: list[Expr]) -> dict[Input, float]:
    """Each input the expressions read, with the longest look-back any of them needs."""
    needed: dict[Input, float] = {}
    for expr in exprs:
        for inp, seconds in expr.inputs():
            needed[inp] = max(needed.get(inp, 0.0), seconds)
    return needed

