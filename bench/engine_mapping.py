"""Can the collector's mapping run in ClickHouse from its one definition? Checked against ``map_span``.

``python -m bench.engine_mapping [--calls 20000]``. A question of the performance issue's redesign
(#20, docs/performance.md): decoding OTLP in the engine saves CPU only if the mapping runs there too, and
the mapping must stay *one* definition. ``ingest/mapping.py`` is table-driven — each call field lists
its source attributes in precedence order, each kind of field has one converter — so the SQL here is
generated from those same tables (``STRING_SOURCES``, ``INT_SOURCES``, ``FLOAT_SOURCES``,
``BOOL_SOURCES``, ``FINISH_REASON_SOURCES``), with the rules around them written once more by hand
(operation aliases, the OpenInference hint, provider case, the model fallback, status).

ClickHouse reads the bodies with its ``Protobuf`` format, each attribute's ``AnyValue`` with
``input_format_protobuf_oneof_presence``: which member of the oneof was set, so an empty string, a 0 or
a ``false`` that was sent is told from one that was not — what Python's ``WhichOneof`` says. A value the
generated SQL cannot convert exactly as Python does (a double into a text field: Python writes
``repr``; text into a number field: Python's ``float`` and ``\\s`` accept more; text that is not
printable ASCII where Python strips and lowercases; an attribute sent twice: Python keeps the last)
marks its span *inexact*: a redesign would send such a request down the Python path.

Two shapes (``--shape``): *columns*, each source attribute looked up once per span and converted in
place; *rows*, one row per attribute a span carries, converted, then per span the best-ranked usable
value of each field (``argMinIf``). ``--first-source-only`` reads each field from its first source
(the SDK's names) and leaves spans with another source to Python.

Every span ``map_span`` maps to a call is compared field by field, over the SDK-shaped bodies of the
ingest benchmark, every export request in the peer corpus (``tests/peers/corpus``: what ten real
instrumentations sent) and fuzzed spans (random attributes from the tables with edge values). Printed:
spans compared and inexact, each field's disagreements with examples, then the CPU: Python's per
span; the engine's per query (planning alone, and one request's query) and per further span in the
same query. Clip counts (``wrong_type``) are not compared: Python counts one per failed conversion in
attribute order, which the value does not depend on. Not part of ``python -m bench``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "peers" / "corpus"

# The oneof ``value`` of ``AnyValue``: the enum's numbers are the members' field numbers.
_PRESENCE = (
    "value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, "
    "'double_value' = 4, 'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7)"
)
_SCALARS = "string_value String, bool_value Bool, int_value Int64, double_value Float64"
# One level of arrays (finish reasons); deeper values are read as their kind only.
_ANY_VALUE = (
    f"Tuple({_SCALARS}, array_value Tuple(values Array(Tuple({_SCALARS}, {_PRESENCE}))), {_PRESENCE})"
)
_ATTRIBUTES = f"Array(Tuple(key String, value {_ANY_VALUE}))"
_SPAN = f"Tuple(span_id String, name String, attributes {_ATTRIBUTES}, status Tuple(code Int32))"
STRUCTURE = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {_ATTRIBUTES}), "
    f"scope_spans Array(Tuple(scope Tuple(name String), spans Array({_SPAN})))))"
)
_PRINTABLE_ASCII = "'^[\\\\x20-\\\\x7E]*$'"
# ``mapping._INT_TEXT`` for ASCII whitespace; 19 digits can exceed Int64, where Python's int does not.
_INT_TEXT = "'^[ \\\\t\\\\n\\\\r\\\\f\\\\v]*-?[0-9]{1,18}[ \\\\t\\\\n\\\\r\\\\f\\\\v]*$'"


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Each attribute the fields read is looked up once per span (its index, an alias in the select list),
# and each member of its value is read from its own subcolumn: whole ``AnyValue`` tuples (nested array
# included) read in every rule that tests one member made the query dearer (48 against 33 µs a span
# over 20,000 spans, per-query cost included).
_INDEXES: dict[str, str] = {}  # alias → indexOf expression


def _get(key: str, member: str, of: str = "s") -> str:
    """``member`` of the value of attribute ``key`` (its default when the span does not have it)."""
    expression = f"indexOf({of}.attributes.key, {_quote(key)})"
    alias = next((name for name, known in _INDEXES.items() if known == expression), f"i{len(_INDEXES)}")
    _INDEXES[alias] = expression
    return f"{of}.attributes.value.{member}[{alias}]"


def _kind(key: str, of: str = "s") -> str:
    return _get(key, "value", of)


def _when_sent(key: str, expression: str, of: str = "s") -> str:
    """``expression`` only on spans that carry ``key``, else NULL: most spans carry a few of the ~60
    attributes the tables name, and ``if`` evaluates its branch only on the rows that take it."""
    return f"if(NOT {_sent(key, of)}, NULL, {expression})"


def _sent(key: str, of: str = "s") -> str:
    index = _get(key, "value", of).rsplit("[", 1)[1].rstrip("]")
    return f"{index} != 0"


class _Field:
    """One call field as SQL: its value (NULL when no source gave a usable one) and when it is inexact."""

    def __init__(self, value: str, inexact: list[str]) -> None:
        self.value, self.inexact = value, inexact


def _string_field(keys: tuple[str, ...]) -> _Field:
    values, inexact = [], []
    for key in keys:
        kind = _kind(key)
        values.append(
            _when_sent(
                key,
                f"multiIf({kind} = 'string_value', CAST({_get(key, 'string_value')} AS Nullable(String)), "
                f"{kind} = 'int_value', toString({_get(key, 'int_value')}), NULL)",
            )
        )
        inexact.append(f"{kind} = 'double_value'")  # Python's str(float) is repr, not toString
    return _Field(f"coalesce({', '.join(values)})", inexact)


def _int_field(keys: tuple[str, ...]) -> _Field:
    values, inexact = [], []
    for key in keys:
        kind = _kind(key)
        text, double = _get(key, "string_value"), _get(key, "double_value")
        values.append(
            _when_sent(
                key,
                f"multiIf({kind} = 'int_value', CAST({_get(key, 'int_value')} AS Nullable(Int64)), "
                f"{kind} = 'double_value' AND isFinite({double}) AND abs({double}) < 9.2e18, "
                f"accurateCastOrNull(trunc({double}), 'Int64'), "
                f"{kind} = 'string_value' AND match({text}, {_INT_TEXT}), "
                f"toInt64OrNull(trimBoth({text})), NULL)",
            )
        )
        # Text Python reads as a number and this SQL does not (non-ASCII space or digits, 19 digits).
        inexact.append(
            f"{kind} = 'string_value' AND NOT match({text}, {_INT_TEXT}) AND match({text}, '[0-9]')"
        )
    return _Field(f"coalesce({', '.join(values)})", inexact)


def _float_field(scaled: tuple[tuple[str, float], ...]) -> _Field:
    values, inexact = [], []
    for key, scale in scaled:
        kind = _kind(key)
        values.append(
            _when_sent(
                key,
                f"multiIf({kind} = 'int_value', toFloat64({_get(key, 'int_value')}) * {scale!r}, "
                f"{kind} = 'double_value', "
                f"CAST({_get(key, 'double_value')} AS Nullable(Float64)) * {scale!r}, NULL)",
            )
        )
        inexact.append(f"{kind} = 'string_value'")  # Python's float() reads '1_000', ' inf ', ...
    return _Field(f"coalesce({', '.join(values)})", inexact)


def _bool_field(key: str, default: bool) -> _Field:
    kind = _kind(key)
    return _Field(f"if({kind} = 'bool_value', {_get(key, 'bool_value')}, {str(default).lower()})", [])


def _first_str_field(keys: tuple[str, ...]) -> _Field:
    values, inexact = [], []
    for key in keys:
        kind, text = _kind(key), _get(key, "string_value")
        items = _get(key, "array_value.values.value")  # the kinds of the array's items
        json_text = f"{kind} = 'string_value' AND startsWith({text}, '[')"  # some send '["stop"]'
        values.append(
            _when_sent(
                key,
                f"multiIf({json_text} AND isValidJSON({text}), "
                f"if(JSONType({text}, 1) = 'String', "
                f"CAST(JSONExtractString({text}, 1) AS Nullable(String)), NULL), "
                f"{kind} = 'string_value', CAST({text} AS Nullable(String)), "
                f"{kind} = 'array_value' AND {items}[1] = 'string_value', "
                f"{_get(key, 'array_value.values.string_value')}[1], "
                "NULL)",
            )
        )
        # Text Python's json.loads reads and ClickHouse does not (NaN, Infinity): Python decides.
        inexact.append(f"{json_text} AND NOT isValidJSON({text}) AND match({text}, '(?i)nan|infinity')")
    return _Field(f"coalesce({', '.join(values)})", inexact)


def _resource_fallback(keys: tuple[str, ...]) -> str:
    """The first of ``keys`` the resource holds as text (any text, "" too), else NULL."""
    picks = [
        _when_sent(
            key,
            f"if({_kind(key, 'rs.resource')} = 'string_value', "
            f"CAST({_get(key, 'string_value', 'rs.resource')} AS Nullable(String)), NULL)",
            "rs.resource",
        )
        for key in keys
    ]
    return f"coalesce({', '.join(picks)})"


def generated_fields(first_source_only: bool = False) -> dict[str, _Field]:
    """Every field ``map_span`` fills from the tables, as SQL over the span ``s`` and its ``rs``.

    ``first_source_only``: each field read from its first source (the current OTel name, the SDK's), a
    span carrying any other source left to Python — the fast path a redesign could give the SDK."""
    from tiermix_server.ingest import mapping

    _INDEXES.clear()

    def sources(keys: tuple[Any, ...], name: str) -> tuple[Any, ...]:
        if first_source_only and len(keys) > 1:
            others = [key if isinstance(key, str) else key[0] for key in keys[1:]]
            dropped[name] = " OR ".join(_sent(key) for key in others)
            return keys[:1]
        return keys

    dropped: dict[str, str] = {}
    fields: dict[str, _Field] = {}
    for name, keys in mapping.STRING_SOURCES.items():
        fields[name] = _string_field(sources(keys, name))
    for name, keys in mapping.INT_SOURCES.items():
        fields[name] = _int_field(sources(keys, name))
    for name, scaled in mapping.FLOAT_SOURCES.items():
        fields[name] = _float_field(sources(scaled, name))
    for name, (key, default) in mapping.BOOL_SOURCES.items():
        fields[name] = _bool_field(key, default)
    fields["finish_reason"] = _first_str_field(sources(mapping.FINISH_REASON_SOURCES, "finish_reason"))
    for name, rule in dropped.items():
        fields[name].inexact.append(rule)
    for name in ("service", "environment", "tenant", "route"):  # mapping._RESOURCE_FIELDS
        own = fields[name]
        fields[name] = _Field(
            f"coalesce({own.value}, {_resource_fallback(mapping.STRING_SOURCES[name])})", own.inexact
        )
    for name, default in mapping._DEFAULTS.items():
        if name in fields and default is not None and not isinstance(default, bool):
            fields[
                name
            ].value = (
                f"coalesce({fields[name].value}, {_quote(default) if isinstance(default, str) else default})"
            )
    hint_text = f"upper({_get(mapping._OPENINFERENCE_KIND, 'string_value')})"
    return _with_rules(fields, mapping, _kind(mapping._OPENINFERENCE_KIND), hint_text)


def _with_rules(fields: dict[str, _Field], mapping: Any, hint_kind: str, hint_text: str) -> dict[str, _Field]:
    """The rules ``map_span`` applies after the tables, written here a second time (see the top).
    ``hint_kind`` and ``hint_text``: the kind and the upper-cased text of OpenInference's span kind."""
    hints = mapping._OPENINFERENCE_OPERATIONS
    hint_of = f"transform({hint_text}, {list(hints)!r}, {list(hints.values())!r}, '')"
    hint = f"if({hint_kind} = 'string_value', {hint_of}, '')"
    operation = f"lower(trimBoth({fields['operation'].value}))"
    aliases = mapping._OPERATION_ALIASES
    aliased = f"transform({operation}, {list(aliases)!r}, {list(aliases.values())!r}, {operation})"
    fields["operation"] = _Field(
        f"if({aliased} != '', {aliased}, if({hint} != '', {hint}, 'chat'))",
        [*fields["operation"].inexact, f"NOT match({fields['operation'].value}, {_PRINTABLE_ASCII})"],
    )
    provider = fields["provider"]
    fields["provider"] = _Field(
        f"lower(trimBoth({provider.value}))",
        [*provider.inexact, f"NOT match({provider.value}, {_PRINTABLE_ASCII})"],
    )
    model = fields["model"]
    fields["model"] = _Field(
        f"if({model.value} = '', {fields['request_model'].value}, {model.value})",
        [*model.inexact, *fields["request_model"].inexact],
    )
    error_type = fields["error_type"].value
    tokens = fields["input_tokens"]
    cache_read, cache_write = fields["cache_read_tokens"].value, fields["cache_write_tokens"].value
    cache = f"coalesce({cache_read}, 0) + coalesce({cache_write}, 0)"
    excluded = list(mapping.INPUT_EXCLUDES_CACHE_SCOPES)
    fields["input_tokens"] = _Field(
        f"if(has({excluded!r}, scope) AND {tokens.value} IS NOT NULL, "
        f"{tokens.value} + {cache}, {tokens.value})",
        tokens.inexact,
    )
    fields["status"] = _Field(f"if(status_code = 2 OR {error_type} != '', 'error', 'ok')", [])
    fields["error_type"] = _Field(
        f"if(status_code = 2 OR {error_type} != '', "
        f"if({error_type} != '', {error_type}, '_OTHER'), {error_type})",
        fields["error_type"].inexact,
    )
    return fields


def _query(data: Path, schema: Path, fields: dict[str, _Field]) -> str:
    escaped = STRUCTURE.replace("'", "\\'")
    columns = ",\n  ".join(f"{field.value} AS `{name}_`" for name, field in fields.items())
    inexact = {name: field.inexact for name, field in fields.items() if field.inexact}
    inexact["an attribute sent twice"] = ["sent_twice"]
    reasons = ", ".join(f"if({' OR '.join(rules)}, {_quote(name)}, '')" for name, rules in inexact.items())
    indexes = ",\n  ".join(f"{expression} AS {alias}" for alias, expression in _INDEXES.items())
    return (
        f"SELECT hex(s.span_id) AS span_hex, ss.scope.name AS scope, s.status.code AS status_code,\n"
        "  length(arrayDistinct(s.attributes.key)) != length(s.attributes.key) AS sent_twice,\n"
        f"  {indexes},\n"
        f"  arrayFilter(x -> x != '', [{reasons}]) AS inexact,\n  {columns}\n"
        f"FROM file('{data}', 'Protobuf', '{escaped}')\n"
        "ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s\n"
        f"SETTINGS format_schema = '{schema}:ExportTraceServiceRequest', "
        "input_format_protobuf_oneof_presence = 1, output_format_json_quote_denormals = 1, max_threads = 1"
    )


# -- the row-per-attribute shape -------------------------------------------------------------------
_CONVERTERS = {"text": 1, "int": 2, "float": 3, "flag": 4, "first text": 5}


def _sources(mapping: Any) -> list[tuple[str, str, int, str, float]]:
    """(attribute, field, rank, converter, scale) for every attribute the tables name."""
    out: list[tuple[str, str, int, str, float]] = []
    for field, keys in mapping.STRING_SOURCES.items():
        out += [(key, field, rank, "text", 1.0) for rank, key in enumerate(keys)]
    for field, keys in mapping.INT_SOURCES.items():
        out += [(key, field, rank, "int", 1.0) for rank, key in enumerate(keys)]
    for field, scaled in mapping.FLOAT_SOURCES.items():
        out += [(key, field, rank, "float", scale) for rank, (key, scale) in enumerate(scaled)]
    for field, (key, _default) in mapping.BOOL_SOURCES.items():
        out.append((key, field, 0, "flag", 1.0))
    out += [
        (key, "finish_reason", rank, "first text", 1.0)
        for rank, key in enumerate(mapping.FINISH_REASON_SOURCES)
    ]
    return out


def _rows_query(data: Path, schema: Path, mapping: Any, first_source_only: bool) -> str:
    """The mapping as one row per (span, attribute): each attribute converted by its field's converter
    and ranked, then per span the lowest-ranked usable value of each field (``argMinIf``). A span pays
    for the attributes it carries, as ``map_span``'s loop does, not for every attribute the tables name."""
    _INDEXES.clear()  # this query looks up only the OpenInference kind and the resource's fields
    sources = _sources(mapping)
    names = [field for field in dict.fromkeys(field for _, field, _, _, _ in sources)]
    keys = [key for key, *_ in sources]

    def table(values: list[Any], default: Any) -> str:
        return f"transform(attr_key, {keys!r}, {values!r}, {default!r})"

    slot = table([names.index(field) for _, field, _, _, _ in sources], -1)
    rank = table([rank for _, _, rank, _, _ in sources], 99)
    converter = table([_CONVERTERS[c] for _, _, _, c, _ in sources], 0)
    scale = table([scale for *_, scale in sources], 1.0)
    field_name = table([field for _, field, _, _, _ in sources], "")
    text, double = "v.string_value", "v.double_value"
    first = "tupleElement(v.array_value.values[1], 'value')"  # the first array item's kind
    json_text = "kind = 'string_value' AND startsWith(v.string_value, '[')"
    ascii_fields = [names.index("operation"), names.index("provider")]
    per_attribute = {
        "text_value": f"""multiIf(
      conv = 1 AND kind = 'string_value', CAST({text} AS Nullable(String)),
      conv = 1 AND kind = 'int_value', toString(v.int_value),
      conv = 5 AND {json_text} AND isValidJSON({text}),
        if(JSONType({text}, 1) = 'String', CAST(JSONExtractString({text}, 1) AS Nullable(String)), NULL),
      conv = 5 AND kind = 'string_value', {text},
      conv = 5 AND kind = 'array_value' AND {first} = 'string_value',
        tupleElement(v.array_value.values[1], 'string_value'),
      NULL)""",
        "int_value": f"""multiIf(
      conv = 2 AND kind = 'int_value', CAST(v.int_value AS Nullable(Int64)),
      conv = 2 AND kind = 'double_value' AND isFinite({double}) AND abs({double}) < 9.2e18,
        accurateCastOrNull(trunc({double}), 'Int64'),
      conv = 2 AND kind = 'string_value' AND match({text}, {_INT_TEXT}), toInt64OrNull(trimBoth({text})),
      NULL)""",
        "float_value": f"""multiIf(
      conv = 3 AND kind = 'int_value', toFloat64(v.int_value) * scale,
      conv = 3 AND kind = 'double_value', CAST({double} AS Nullable(Float64)) * scale,
      NULL)""",
        "flag_value": "if(conv = 4 AND kind = 'bool_value', CAST(v.bool_value AS Nullable(Bool)), NULL)",
        "inexact_here": f"""(conv = 1 AND kind = 'double_value')
      OR (conv = 2 AND kind = 'string_value' AND NOT match({text}, {_INT_TEXT}) AND match({text}, '[0-9]'))
      OR (conv = 3 AND kind = 'string_value')
      OR (conv = 5 AND {json_text} AND NOT isValidJSON({text}) AND match({text}, '(?i)nan|infinity'))
      OR (slot IN {tuple(ascii_fields)!r} AND kind = 'string_value' AND NOT match({text}, {_PRINTABLE_ASCII}))
      {"OR attr_rank > 0" if first_source_only else ""}""",
    }
    typed = {"text": "text_value", "int": "int_value", "float": "float_value", "flag": "flag_value",
             "first text": "text_value"}  # fmt: skip
    converters = {field: c for _, field, _, c, _ in sources}
    picks = []
    for index, field in enumerate(names):
        value = typed[converters[field]]
        usable = f"slot = {index} AND isNotNull({value})"
        best = f"argMinIf(assumeNotNull({value}), attr_rank, {usable})"
        picks.append(f"if(countIf({usable}) > 0, {best}, NULL) AS `{field}`")
    resource = {
        field: _resource_fallback(mapping.STRING_SOURCES[field])
        for field in ("service", "environment", "tenant", "route")
    }
    per_span = {
        "span_hex": "hex(s.span_id)",
        "scope": "ss.scope.name",
        "status_code": "s.status.code",
        "sent_twice": "length(arrayDistinct(s.attributes.key)) != length(s.attributes.key)",
        "hint_kind": _kind(mapping._OPENINFERENCE_KIND),
        "hint_text": f"upper({_get(mapping._OPENINFERENCE_KIND, 'string_value')})",
        **{f"resource_{field}": expression for field, expression in resource.items()},
    }
    indexes = "".join(f", {expression} AS {alias}" for alias, expression in _INDEXES.items())
    spans = ", ".join(f"{expression} AS span_{name}" for name, expression in per_span.items())
    attributes = ",\n    ".join(f"{expression} AS {name}" for name, expression in per_attribute.items())
    carried = ", ".join(f"any(span_{name}) AS {name}" for name in per_span)
    fields = {field: _Field(f"`{field}`", []) for field in names}
    for field in resource:
        fields[field] = _Field(f"coalesce(`{field}`, resource_{field})", [])
    for name, default in mapping._DEFAULTS.items():
        if name in fields and default is not None:
            literal = (
                str(default).lower()
                if isinstance(default, bool)
                else _quote(default)
                if isinstance(default, str)
                else default
            )
            fields[name].value = f"coalesce({fields[name].value}, {literal})"
    fields = _with_rules(fields, mapping, "hint_kind", "hint_text")
    columns = ",\n  ".join(f"{field.value} AS `{name}_`" for name, field in fields.items())
    escaped = STRUCTURE.replace("'", "\\'")
    return f"""SELECT span_hex,
  arrayConcat(inexact_fields, if(sent_twice, ['an attribute sent twice'], [])) AS inexact,
  {columns}
FROM (
  SELECT span_no, {carried}, groupUniqArrayIf(field_name, inexact_here) AS inexact_fields,
    {", ".join(picks)}
  FROM (
    SELECT span_no, {", ".join(f"span_{name}" for name in per_span)}, a.1 AS attr_key, a.2 AS v,
    tupleElement(v, 'value') AS kind, {slot} AS slot, {rank} AS attr_rank, {converter} AS conv,
    {scale} AS scale, {field_name} AS field_name,
    {attributes}
    FROM (
      SELECT rowNumberInAllBlocks() AS span_no, {spans},
        arrayZip(s.attributes.key, s.attributes.value) AS attrs {indexes}
      FROM file('{data}', 'Protobuf', '{escaped}')
      ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s)
    LEFT ARRAY JOIN attrs AS a)
  GROUP BY span_no)
ORDER BY span_no
SETTINGS format_schema = '{schema}:ExportTraceServiceRequest', input_format_protobuf_oneof_presence = 1,
  output_format_json_quote_denormals = 1, max_threads = 1"""


def _bodies(calls: int) -> dict[str, list[bytes]]:
    """Protobuf request bodies by source: the benchmark's SDK spans and each peer's corpus."""
    from bench.ingest import make_bodies
    from tiermix_server.ingest.decode import JSON, parse

    sources = {
        "tiermix SDK (benchmark)": [gzip.decompress(b) for b in make_bodies(max(1, calls // 1000), 1000)]
    }
    for path in sorted(CORPUS.glob("*.json")):
        requests = json.loads(path.read_text())["requests"]
        sources[path.stem] = [parse(json.dumps(r).encode(), JSON).SerializeToString() for r in requests]
    sources["fuzzed (random attributes from the tables, edge values)"] = _fuzzed(calls, seed=20)
    return sources


def _fuzzed(spans: int, seed: int) -> list[bytes]:
    """Requests of spans with random attributes from the mapping's tables, of random kinds and edge
    values (empty, 0, false, doubles, numeric and JSON text, non-ASCII, arrays, keys sent twice)."""
    import random

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    from tiermix_server.ingest import mapping

    rng = random.Random(seed)
    keys = sorted({*mapping.ATTRIBUTE_KEYS} - {"tiermix.drop.count", "tiermix.drop.reason"})
    texts = [
        "",
        "gpt-4o",
        " Chat ",
        "OPENAI",
        "completion",
        "LLM",
        "embedding",
        "42",
        " -7 ",
        "1e3",
        "x1",
        '["stop"]',
        '["stop", 1]',
        "[1]",
        "[not json",
        "Ünïcode",
        "tab\tin",
        "9" * 19,
        "0",
        "true",
    ]
    numbers: list[Any] = [0, 1, -1, 7, 2**40, 0.0, 2.5, -3.75, 1e16, float("inf"), float("nan")]

    def value() -> AnyValue:
        pick = rng.randrange(6)
        if pick == 0:
            return AnyValue(string_value=rng.choice(texts))
        if pick == 1:
            number = rng.choice(numbers)
            return AnyValue(int_value=number) if isinstance(number, int) else AnyValue(double_value=number)
        if pick == 2:
            return AnyValue(bool_value=rng.random() < 0.5)
        if pick == 3:
            out = AnyValue()
            for _ in range(rng.randrange(3)):
                if rng.random() < 0.7:
                    out.array_value.values.add(string_value=rng.choice(texts))
                else:
                    out.array_value.values.add(int_value=3)
            return out
        if pick == 4:
            return AnyValue(int_value=rng.choice([0, 5, 120]))
        return AnyValue()

    bodies = []
    for start in range(0, spans, 500):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        for key in rng.sample(
            ["service.name", "deployment.environment", "tiermix.tenant", "tiermix.route"], 2
        ):
            resource_spans.resource.attributes.add(key=key, value=value())
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = rng.choice(["tiermix", "openlit.instrumentation.anthropic", "other"])
        for number in range(start, min(start + 500, spans)):
            span = scope_spans.spans.add(span_id=(number + 1).to_bytes(8, "big"), name="chat")
            span.status.code = rng.choice([0, 0, 1, 2])  # type: ignore[assignment]  # the enum is an int
            span.attributes.add(key="gen_ai.operation.name", value=AnyValue(string_value="chat"))
            for key in rng.sample(keys, rng.randrange(1, 14)):
                span.attributes.add(key=key, value=value())
            if rng.random() < 0.05:  # a key sent twice: Python keeps the last
                span.attributes.add(key=span.attributes[0].key, value=value())
        bodies.append(request.SerializeToString())
    return bodies


def _same(python: Any, engine: Any) -> bool:
    if isinstance(python, float) and isinstance(engine, float):
        return (math.isnan(python) and math.isnan(engine)) or math.isclose(python, engine, rel_tol=1e-12)
    return bool(python == engine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine_mapping", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--first-source-only",
        action="store_true",
        help="each field from its first source only; spans with another source are left to Python",
    )
    parser.add_argument(
        "--shape",
        choices=("rows", "columns"),
        default="columns",
        help="rows: one row per attribute, then the best source per field; columns: a look-up per source",
    )
    args = parser.parse_args(argv)
    import chdb

    from bench.engine_decode import _varint, otlp_schema
    from tiermix_server.ingest import mapping
    from tiermix_server.ingest.decode import PROTOBUF, flatten, parse

    work = Path(tempfile.mkdtemp(prefix="tiermix-bench-mapping-"))
    schema = work / "otlp.proto"
    schema.write_text(otlp_schema())

    def query(data: Path) -> str:
        if args.shape == "rows":
            return _rows_query(data, schema, mapping, args.first_source_only)
        return _query(data, schema, generated_fields(args.first_source_only))

    failures = 0
    print(f"the {args.shape} shape, generated from ingest/mapping.py's tables and rules")
    for source, bodies in _bodies(args.calls).items():
        data = work / "bodies.protobuf"
        data.write_bytes(b"".join(_varint(len(body)) + body for body in bodies))
        engine_rows = chdb.query(query(data), "JSONCompact")
        result = json.loads(engine_rows.bytes() if hasattr(engine_rows, "bytes") else str(engine_rows))
        names = [column["name"] for column in result["meta"]]
        fields = [name.removesuffix("_") for name in names if name.endswith("_")]  # the call's fields
        rows = [dict(zip([n.removesuffix("_") for n in names], row, strict=True)) for row in result["data"]]
        spans = [span for body in bodies for span in flatten(parse(body, PROTOBUF), keep_content=False)]
        if len(rows) != len(spans):
            print(f"{source}: the engine read {len(rows)} spans, Python {len(spans)}")
            failures += 1
            continue
        compared, inexact, differ = 0, Counter[str](), Counter[str]()
        examples: dict[str, str] = {}
        for span, row in zip(spans, rows, strict=True):
            assert row["span_hex"].lower() == span.span_id.hex(), "the engine's spans are in another order"
            mapped = mapping.map_span(span)
            if not isinstance(mapped, mapping.Mapped):
                continue
            if row["inexact"]:
                inexact.update(row["inexact"])
                inexact["spans"] += 1
                continue
            compared += 1
            for name in fields:
                python, engine = mapped.fields[name], _typed(row[name], mapped.fields[name])
                if not _same(python, engine):
                    differ[name] += 1
                    examples.setdefault(name, f"python {python!r}, engine {engine!r}")
        print(f"\n{source}: {compared} calls compared, {inexact.pop('spans', 0)} inexact (left to Python)")
        if inexact:
            print(f"  inexact by field: {dict(inexact)}")
        for name, count in differ.most_common():
            print(f"  {name}: {count} differ, e.g. {examples[name]}")
        failures += bool(differ)
    print("\nevery compared field agrees" if not failures else f"\n{failures} source(s) with differences")
    _costs(work, query, mapping, args.calls, args.rounds)
    return 1 if failures else 0


def _costs(work: Path, query: Any, mapping: Any, calls: int, rounds: int) -> None:
    """CPU of the SDK-shaped bodies mapped both ways (every thread of this process, best of ``rounds``):
    Python's parse, ``flatten`` and ``map_span`` per span; the engine's decode and generated mapping,
    aggregated inside it (nothing handed to Python), as a cost per query (one request's body, and
    ``EXPLAIN`` alone: planning) and per span beyond it (all bodies against one)."""
    import time

    import chdb

    from bench.engine_decode import _varint
    from tiermix_server.ingest.decode import PROTOBUF, flatten, parse
    from tiermix_server.ingest.mapping import ATTRIBUTE_KINDS, ATTRIBUTE_PREFIXES

    bodies = _bodies(calls)["tiermix SDK (benchmark)"]

    def best_of(work_of: Any) -> float:
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            work_of()
            best = min(best, time.process_time() - started)
        return best

    def python() -> None:
        for body in bodies:
            for span in flatten(parse(body, PROTOBUF), keep_content=False, kinds=ATTRIBUTE_KINDS,
                                prefixes=ATTRIBUTE_PREFIXES):  # fmt: skip
                mapping.map_span(span)

    def engine(some: list[bytes], explain: bool = False) -> float:
        data = work / f"sdk-{len(some)}.protobuf"
        data.write_bytes(b"".join(_varint(len(body)) + body for body in some))
        spans, settings = query(data).split("\nSETTINGS ")
        sql = f"SELECT count(), sum(cityHash64(*)) FROM ({spans})\nSETTINGS {settings}"
        return best_of(lambda: chdb.query(f"EXPLAIN PLAN {sql}" if explain else sql, "CSV"))

    one, planning, every = engine(bodies[:1]), engine(bodies[:1], explain=True), engine(bodies)
    spans_one = len(list(flatten(parse(bodies[0], PROTOBUF), keep_content=False)))
    print(f"\nCPU, {calls:,} SDK-shaped spans in requests of {spans_one:,}, best of {rounds}:")
    print(f"  {'Python: parse, flatten, map_span, per span':<52} {best_of(python) / calls * 1e6:8.2f} µs")
    print(f"  {'chDB: a query of one request, planning only (EXPLAIN)':<52} {planning * 1e3:8.1f} ms")
    print(f"  {'chDB: a query of one request, decoded and mapped':<52} {one * 1e3:8.1f} ms")
    marginal = (every - one) / max(calls - spans_one, 1) * 1e6
    print(f"  {'chDB: each further span in the same query':<52} {marginal:8.2f} µs")


def _typed(engine: Any, python: Any) -> Any:
    """JSONCompact writes 64-bit integers as text; read them back as Python has them."""
    if isinstance(engine, str) and isinstance(python, int) and not isinstance(python, bool):
        return int(engine)
    if isinstance(engine, (int, str)) and isinstance(python, float):  # "nan", "inf": quoted denormals
        return float(engine)
    return engine


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
