"""What decoding OTLP in ClickHouse would cost per span, next to the collector's Python decode.

``python -m bench.engine_decode [--calls 100000] [--rounds 3]``. The same SDK-shaped bodies as the ingest
benchmark (``bench.ingest.make_bodies``), gunzipped, decoded three ways in this one process, CPU time per
span (``time.process_time``: every thread of the process, chDB's included), best of ``--rounds``:

- Python, parse and flatten: ``ParseFromString`` and ``ingest/decode.flatten`` with the mapped attributes;
- Python, the whole ``ingest/process.process`` (parse, flatten, map, validate, price, identity keys);
- chDB, ``Protobuf`` input format: the same bodies read by ``file(…, 'Protobuf')`` with the OTLP schema,
  one row per span after ``ARRAY JOIN``, the mapped attributes picked out by key — once aggregated inside
  the engine (the decode alone), once returned to Python as Arrow columns (decode and hand-over).

And end to end, decode through rows stored in ``llm_calls`` with every rollup view, in batches of
10,000 spans (the collector's batch under load):

- Python: ``process`` and the collector's writer (``ingest/write.ClickHouseWriter``), as the collector
  does it minus the HTTP, the spool and the worker hand-off;
- chDB: one ``INSERT INTO llm_calls SELECT … FROM file(…, 'Protobuf')`` per batch, the attributes
  mapped to the call's columns in SQL, tier and prices by model from arrays (taken from the same
  enricher). This has the *shape* of the mapping, not its rules: no validation, no conventions but the
  SDK's, no identity keys, no check for calls seen before. It is the ceiling of that design.

Then both again with what the collector also does per call before it stores one (a cold memory each
round, so every call is new, as in steady state):

- Python: ``process`` (which validates and makes the identity keys already), each batch's keys claimed
  in and settled into the memory of recent calls (``recent.RecentKeys``), and the ``call_keys`` rows
  written with the calls;
- chDB: one ``INSERT INTO stage SELECT …`` per batch into a Memory table: the mapped columns, the five
  identity keys of a one-span call in SQL (``sipHash64`` over the parts of ``identity.call_keys``:
  ClickHouse has no blake2b, so these are not the stored keys, only their cost) and ``validate``'s
  main rules as one ``multiIf`` (start, future, token counts, end before start, duration, string
  lengths: its shape and cost, not every rule); the keys handed to Python as Arrow columns and checked
  in the same ``RecentKeys`` (state across requests stays in Python); then ``llm_calls`` and
  ``call_keys`` filled from the stage, less the calls memory knew. The stored summary and the number of
  keys are checked equal to the Python path's.

It answers a design question of the performance issue (#20): how much of the per-call CPU ClickHouse's
own decoding would save; it is not part of ``python -m bench``. The schema is written from the
descriptors of the installed ``opentelemetry-proto`` (its wheel ships no ``.proto`` files), so it is
exactly the wire format the collector parses. The chDB side maps attributes only, not the call fields:
it is the lower bound of that design, not a drop-in.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor

REPO = Path(__file__).resolve().parents[1]

_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
}

# One attribute value as the Protobuf format reads it: the oneof's scalar members (arrays and maps are
# skipped by the engine; the collector reads the few it needs, finish reasons, in Python).
_ANY_VALUE = "Tuple(string_value String, bool_value Bool, int_value Int64, double_value Float64)"
_ATTRIBUTES = f"Array(Tuple(key String, value {_ANY_VALUE}))"
_SPAN = (
    "Tuple(trace_id String, span_id String, parent_span_id String, name String, kind Int32, "
    f"start_time_unix_nano UInt64, end_time_unix_nano UInt64, attributes {_ATTRIBUTES}, "
    "status Tuple(message String, code Int32))"
)
STRUCTURE = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {_ATTRIBUTES}), "
    f"scope_spans Array(Tuple(scope Tuple(name String), spans Array({_SPAN})))))"
)


def otlp_schema() -> str:
    """The OTLP trace export messages as one proto3 file, written from the installed descriptors."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    files: list[FileDescriptor] = []

    def walk(file: FileDescriptor) -> None:
        if file not in files:
            for dependency in file.dependencies:
                walk(dependency)
            files.append(file)

    walk(trace_service_pb2.DESCRIPTOR)
    lines = ['syntax = "proto3";', "package otlp;"]
    for file in files:
        for enum in file.enum_types_by_name.values():
            lines += _enum(enum, "")
        for message in file.message_types_by_name.values():
            lines += _message(message, "")
    return "\n".join(lines) + "\n"


def _local_name(full_name: str) -> str:
    # opentelemetry.proto.trace.v1.Span.SpanKind → Span.SpanKind (every message lives in ``otlp`` here)
    return full_name.split(".v1.", 1)[1] if ".v1." in full_name else full_name


def _enum(enum: EnumDescriptor, indent: str) -> list[str]:
    values = [f"{indent}  {value.name} = {value.number};" for value in enum.values]
    return [f"{indent}enum {enum.name} {{", *values, f"{indent}}}"]


def _message(message: Descriptor, indent: str) -> list[str]:
    lines = [f"{indent}message {message.name} {{"]
    for enum in message.enum_types:
        lines += _enum(enum, indent + "  ")
    for nested in message.nested_types:
        lines += _message(nested, indent + "  ")
    oneofs: dict[str, list[FieldDescriptor]] = {}
    for field in message.fields:
        if field.containing_oneof is not None:
            oneofs.setdefault(field.containing_oneof.name, []).append(field)
        else:
            lines.append(f"{indent}  {_field(field)}")
    for name, members in oneofs.items():
        lines += [
            f"{indent}  oneof {name} {{",
            *(f"{indent}    {_field(f)}" for f in members),
            f"{indent}  }}",
        ]
    return [*lines, f"{indent}}}"]


def _field(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        kind = _local_name(field.message_type.full_name)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        kind = _local_name(field.enum_type.full_name)
    else:
        kind = _SCALARS[field.type]
    repeated = "repeated " if field.is_repeated else ""
    return f"{repeated}{kind} {field.name} = {field.number};"


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | 0x80 if number else low)
        if not number:
            return bytes(out)


def _spans_of(data: Path) -> str:
    """One row per span of the bodies in ``data``, read by the engine: ``rs``, ``ss`` and ``s`` in scope."""
    return (
        f"FROM file('{data}', 'Protobuf', '{STRUCTURE}')\n"
        "ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s\n"
    )


def _settings(schema: Path) -> str:
    return f"SETTINGS format_schema = '{schema}:ExportTraceServiceRequest', max_threads = 1"


def _attribute(key: str, kind: str = "string_value", of: str = "s") -> str:
    return f"{of}.attributes.value.{kind}[indexOf({of}.attributes.key, '{key}')]"


def _engine_query(data: Path, schema: Path, attributes: dict[str, str], aggregate: bool) -> str:
    picked = ",\n  ".join(f"{_attribute(key, kind)} AS `{key}`" for key, kind in sorted(attributes.items()))
    spans = f"""
SELECT hex(s.trace_id) AS trace_id, hex(s.span_id) AS span_id, hex(s.parent_span_id) AS parent_span_id,
  s.name AS name, s.kind AS kind, s.start_time_unix_nano AS start_ns, s.end_time_unix_nano AS end_ns,
  s.status.code AS status_code, s.status.message AS status_message, ss.scope.name AS scope,
  {picked}
{_spans_of(data)}"""
    if aggregate:  # everything decoded and picked, nothing handed over
        spans = f"SELECT count(), sum(cityHash64(*)) FROM ({spans})"
    return f"{spans}\n{_settings(schema)}"


def _engine_insert(
    data: Path, schema: Path, tiers: dict[str, str], prices: dict[str, tuple[float, float]]
) -> str:
    """``llm_calls`` rows from OTLP in SQL: the mapping's shape for the SDK's attributes (see the top)."""
    columns = _engine_columns(tiers, prices)
    return (
        f"INSERT INTO llm_calls ({', '.join(columns)}) SELECT {', '.join(columns.values())}\n"
        f"{_spans_of(data)}{_settings(schema)}"
    )


def _engine_columns(tiers: dict[str, str], prices: dict[str, tuple[float, float]]) -> dict[str, str]:
    """Each ``llm_calls`` column the SDK's spans fill, as an expression over the span ``s`` and ``rs``."""
    models = sorted(prices)
    model = _attribute("gen_ai.response.model")
    input_tokens = f"toUInt32({_attribute('gen_ai.usage.input_tokens', 'int_value')})"
    output_tokens = f"toUInt32({_attribute('gen_ai.usage.output_tokens', 'int_value')})"

    def by_model(values: list[Any], default: str) -> str:
        return f"transform({model}, {models!r}, {values!r}, {default})"

    columns = {
        "ts": "fromUnixTimestamp64Nano(toInt64(s.start_time_unix_nano))",
        "duration_ms": "(s.end_time_unix_nano - s.start_time_unix_nano) / 1e6",
        "trace_id": "toFixedString(s.trace_id, 16)",
        "span_id": "reinterpretAsUInt64(reverse(s.span_id))",
        "parent_span_id": "reinterpretAsUInt64(reverse(s.parent_span_id))",
        "request_id": f"cityHash64({_attribute('tiermix.request_id')})",
        "attempt": f"toUInt8({_attribute('tiermix.attempt', 'int_value')})",
        "final": "true",
        "tenant": _attribute("tiermix.tenant"),
        "route": _attribute("tiermix.route"),
        "environment": _attribute("deployment.environment.name", of="rs.resource"),
        "service": _attribute("service.name", of="rs.resource"),
        "provider": _attribute("gen_ai.provider.name"),
        "operation": _attribute("gen_ai.operation.name"),
        "request_model": _attribute("gen_ai.request.model"),
        "model": model,
        "tier": by_model([tiers[m] for m in models], "'unknown'"),
        "tier_source": "'tier map'",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost_usd": f"{input_tokens} * {by_model([prices[m][0] for m in models], '0.')} + "
        f"{output_tokens} * {by_model([prices[m][1] for m in models], '0.')}",
        "price_source": "'genai-prices'",
        "status": "if(s.status.code = 2, 'error', 'ok')",
    }
    return columns


def _engine_stage(
    data: Path, schema: Path, tiers: dict[str, str], prices: dict[str, tuple[float, float]]
) -> tuple[str, str]:
    """A staging table ``stage`` and the insert that fills it from OTLP: the mapped columns, the identity
    keys of ``identity.call_keys`` (a call of one span) and the first rule of ``validate.validate`` the
    span breaks (``problem``, '' when none). Returns (create, fill)."""
    from tiermix_server.ingest import validate as v

    columns = _engine_columns(tiers, prices)
    tenant, trace = columns["tenant"], "s.trace_id"
    provider, response_id = columns["provider"], _attribute("gen_ai.response.id")

    # sipHash64 stands in for identity._key's blake2b-64, which ClickHouse does not have: the same
    # parts, a hash of the same order of cost. A redesign would need one hash both sides compute.
    def key(kind: str, *parts: str) -> str:
        return f"sipHash64('{kind}', {', '.join(parts)})"

    span = "toString(reinterpretAsUInt64(reverse(s.span_id)))"
    parent = "toString(reinterpretAsUInt64(reverse(s.parent_span_id)))"
    has_parent = "length(s.parent_span_id) > 0"
    tokens = [_attribute(f"gen_ai.usage.{name}_tokens", "int_value") for name in ("input", "output")]
    start, end = "toInt64(s.start_time_unix_nano)", "toInt64(s.end_time_unix_nano)"
    short = [columns[name] for name in ("route", "model", "request_model", "provider", "operation")]
    rules = [
        (f"{start} <= 0", "no start time"),
        (f"{start} > {time.time_ns() + v.MAX_FUTURE_S * 10**9}", "start time in the future"),
        *((f"{t} < 0", "negative token count") for t in tokens),
        *((f"{t} > {v.MAX_TOKENS}", "token count too large") for t in tokens),
        (f"{end} < {start}", "ends before it starts"),
        (f"({end} - {start}) / 1e6 > {v.MAX_DURATION_MS}", "duration too long"),
        (f"greatest({', '.join(f'length({x})' for x in short)}) > {v.MAX_SHORT_STRING}", "value too long"),
        (f"length({tenant}) > {v.MAX_TENANT}", "tenant too long"),
    ]
    extra = {
        "k_span": key("s", tenant, trace, span),
        "k_child": key("c", tenant, trace, span),
        "k_parent": f"if({has_parent}, {key('s', tenant, trace, parent)}, 0)",
        "k_parent_child": f"if({has_parent}, {key('c', tenant, trace, parent)}, 0)",
        "k_response": f"if({response_id} != '', {key('r', tenant, provider, response_id)}, 0)",
        "problem": f"multiIf({', '.join(f'{rule}, {reason!r}' for rule, reason in rules)}, '')",
    }
    picked = ", ".join(f"{expression} AS {name}" for name, expression in {**columns, **extra}.items())
    select = f"SELECT {picked}\n{_spans_of(data)}"
    return (
        f"CREATE TABLE IF NOT EXISTS stage ENGINE = Memory AS {select} LIMIT 0 {_settings(schema)}",
        f"INSERT INTO stage {select} {_settings(schema)}",
    )


def _cpu_us_per_span(
    work: Callable[[], Any], spans: int, rounds: int, prepare: Callable[[], Any] = lambda: None
) -> float:
    best = float("inf")
    for _ in range(rounds):
        prepare()  # not timed
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / spans * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine_decode", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from bench.ingest import make_bodies
    from tiermix_server.ingest.decode import PROTOBUF, flatten, parse
    from tiermix_server.ingest.identity import CallKeys
    from tiermix_server.ingest.mapping import ATTRIBUTE_KINDS, ATTRIBUTE_PREFIXES
    from tiermix_server.ingest.process import process
    from tiermix_server.ingest.recent import RecentKeys
    from tiermix_server.ingest.submission import key_rows
    from tiermix_server.ingest.validate import Limits
    from tiermix_server.ingest.write import LLM_CALLS_COLUMNS, Batch, ClickHouseWriter
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    work_dir = Path(tempfile.mkdtemp(prefix="tiermix-bench-decode-"))
    settings = Settings(data_dir=work_dir / "data")
    enricher = build_enricher(settings, open_meta(settings))
    limits = Limits(now_ns=time.time_ns(), max_age_days=settings.raw_ttl_days)
    bodies = [gzip.decompress(body) for body in make_bodies(max(1, args.calls // 1000), 1000)]
    spans = sum(len(list(flatten(parse(body, PROTOBUF), keep_content=False))) for body in bodies)
    schema = work_dir / "otlp.proto"
    schema.write_text(otlp_schema())
    data = work_dir / "bodies.protobuf"  # the Protobuf format reads length-delimited messages
    data.write_bytes(b"".join(_varint(len(body)) + body for body in bodies))
    # The engine picks the attributes the mapping reads with the kind it usually holds.
    kinds = {key: kind or "string_value" for key, kind in ATTRIBUTE_KINDS.items()}
    aggregated = _engine_query(data, schema, kinds, aggregate=True)
    handed_over = _engine_query(data, schema, kinds, aggregate=False)
    client = connect(settings)  # chDB allows one data dir per process: every query goes through it
    migrate(client, settings)
    engine_count = client.query(aggregated).result_rows[0][0]
    if engine_count != spans:
        print(f"the engine read {engine_count} spans, Python {spans}", file=sys.stderr)
        return 1

    def python_flatten() -> None:
        for body in bodies:
            list(
                flatten(
                    parse(body, PROTOBUF),
                    keep_content=False,
                    kinds=ATTRIBUTE_KINDS,
                    prefixes=ATTRIBUTE_PREFIXES,
                )
            )

    def python_process() -> None:
        for body in bodies:
            process(parse(body, PROTOBUF), enricher=enricher, limits=limits)

    figures = {
        "python: parse + flatten": _cpu_us_per_span(python_flatten, spans, args.rounds),
        "python: whole process()": _cpu_us_per_span(python_process, spans, args.rounds),
        "chdb: Protobuf decode + pick attributes": _cpu_us_per_span(
            lambda: client.query(aggregated), spans, args.rounds
        ),
        "chdb: … + Arrow columns to Python": _cpu_us_per_span(
            lambda: client.query_arrow(handed_over), spans, args.rounds
        ),
    }

    # End to end: rows stored with every view, batches of 10,000 spans, each way.
    tables = [
        name
        for (name,) in client.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
        ).result_rows
    ]
    groups = [bodies[n : n + 10] for n in range(0, len(bodies), 10)]
    files = []
    for index, group in enumerate(groups):
        files.append(work_dir / f"batch-{index}.protobuf")
        files[-1].write_bytes(b"".join(_varint(len(body)) + body for body in group))
    rows = [
        row
        for body in bodies
        for row in process(parse(body, PROTOBUF), enricher=enricher, limits=limits).calls
    ]
    tiers, prices = _per_model(rows, LLM_CALLS_COLUMNS)
    inserts = [_engine_insert(path, schema, tiers, prices) for path in files]
    writer = ClickHouseWriter(client)
    rounds = itertools.count()  # a fresh insert token per round

    def empty() -> None:
        for table in tables:
            client.command(f"TRUNCATE TABLE {table}")

    def python_store() -> None:
        run = next(rounds)
        for index, group in enumerate(groups):
            calls = [
                row
                for body in group
                for row in process(parse(body, PROTOBUF), enricher=enricher, limits=limits).calls
            ]
            writer.write(Batch(f"engine-decode-{run}-{index}", calls, [], []))

    def engine_store() -> None:
        for insert in inserts:
            client.command(insert, settings={"insert_deduplicate": 0})

    figures["python: process() + insert, every view"] = _cpu_us_per_span(
        python_store, spans, args.rounds, empty
    )
    # What was stored, both ways: the same calls, tiers, tokens and (to float rounding) cost.
    summary = (
        "SELECT tier, model, count(), sum(input_tokens), sum(output_tokens), round(sum(cost_usd), 6), "
        "uniqExact(span_id), min(ts), max(ts) FROM llm_calls GROUP BY tier, model ORDER BY tier, model"
    )
    stored = client.query(summary).result_rows
    figures["chdb: decode + map in SQL + insert, every view"] = _cpu_us_per_span(
        engine_store, spans, args.rounds, empty
    )
    engine_stored = client.query(summary).result_rows
    if engine_stored != stored or sum(row[2] for row in stored) != spans:
        print(f"stored differently:\n  Python {stored}\n  engine {engine_stored}", file=sys.stderr)
        return 1

    # With the rest of what the collector does per call before storing: validation, identity keys,
    # each call's keys checked against and added to the memory of recent calls (recent.RecentKeys, in
    # Python both ways: it is state across requests), and the keys stored in call_keys.
    memory: list[RecentKeys] = []
    owner = asyncio.new_event_loop().create_future  # claims need an owner; nothing awaits them here

    def cold_start() -> None:
        empty()
        memory[:] = [RecentKeys()]

    def python_checked() -> None:
        run, recent = next(rounds), memory[0]
        for index, group in enumerate(groups):
            calls, keys = [], []
            for body in group:
                processed = process(parse(body, PROTOBUF), enricher=enricher, limits=limits)
                calls += processed.calls
                keys += processed.keys
            keep, _ = recent.claim(keys, owner())
            kept = [(call, key) for call, key, new in zip(calls, keys, keep, strict=True) if new]
            kept_calls, kept_keys = [call for call, _ in kept], [key for _, key in kept]
            writer.write(Batch(f"checked-{run}-{index}", kept_calls, [], [], key_rows(kept_calls, kept_keys)))
            recent.settle(kept_keys, durable=True)

    stages = [_engine_stage(path, schema, tiers, prices) for path in files]
    client.command(stages[0][0])  # one staging table: every batch's create is the same but for its file
    fills = [fill for _, fill in stages]
    call_columns = ", ".join(_engine_columns(tiers, prices))
    no_dedup = {"insert_deduplicate": 0}
    valid = "problem = ''"  # the spans validation keeps

    def engine_checked() -> None:
        recent = memory[0]
        for fill in fills:
            client.command(fill, settings=no_dedup)
            table = client.query_arrow(
                f"SELECT k_span, k_child, k_parent, k_parent_child, k_response FROM stage WHERE {valid}"
            )
            columns = [table.column(i).to_numpy().tolist() for i in range(5)]
            keys = [
                CallKeys(
                    (own, child, *((parent,) if parent else ()), *((response,) if response else ())),
                    (own, *((parent_child,) if parent_child else ()), *((response,) if response else ())),
                )
                for own, child, parent, parent_child, response in zip(*columns, strict=True)
            ]
            keep, _ = recent.claim(keys, owner())
            where = valid
            if dropped := [key.lookup[0] for key, new in zip(keys, keep, strict=True) if not new]:
                where += f" AND k_span NOT IN ({', '.join(map(str, dropped))})"
            client.command(
                f"INSERT INTO llm_calls ({call_columns}) SELECT {call_columns} FROM stage WHERE {where}",
                settings=no_dedup,
            )
            client.command(
                "INSERT INTO call_keys (key, ts) SELECT k, toDateTime(ts) FROM stage "
                f"ARRAY JOIN [k_span, k_parent_child, k_response] AS k WHERE {where} AND k != 0",
                settings=no_dedup,
            )
            recent.settle([key for key, new in zip(keys, keep, strict=True) if new], durable=True)
            client.command("TRUNCATE TABLE stage")

    keys_summary = "SELECT count(), uniqExact(key) FROM call_keys"
    figures["python: … + memory check, call_keys rows"] = _cpu_us_per_span(
        python_checked, spans, args.rounds, cold_start
    )
    checked = client.query(summary).result_rows, client.query(keys_summary).result_rows
    figures["chdb: … + validation, keys in SQL, memory check, call_keys"] = _cpu_us_per_span(
        engine_checked, spans, args.rounds, cold_start
    )
    engine_checked_stored = client.query(summary).result_rows, client.query(keys_summary).result_rows
    if engine_checked_stored != checked or checked[0] != stored:
        print(f"stored differently:\n  Python {checked}\n  engine {engine_checked_stored}", file=sys.stderr)
        return 1
    engine_checked()  # the same spans again, memory warm: every call is known, nothing more is stored
    if (client.query(summary).result_rows, client.query(keys_summary).result_rows) != checked:
        print("the engine's memory check let a re-sent call through", file=sys.stderr)
        return 1
    baseline = figures["python: parse + flatten"]
    print(f"{spans:,} spans, {len(kinds)} attributes picked, CPU per span (best of {args.rounds}):")
    for name, value in figures.items():
        print(f"  {name:58s} {value:7.2f} us   {value / baseline:5.2f}x parse + flatten")
    return 0


def _per_model(
    rows: list[Any], columns: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """Each model's tier and USD per input and output token, solved from the enricher's own rows."""
    import numpy as np

    at = {
        name: columns.index(name) for name in ("model", "tier", "input_tokens", "output_tokens", "cost_usd")
    }
    tiers: dict[str, str] = {}
    samples: dict[str, list[Any]] = {}
    for row in rows:
        tiers[row[at["model"]]] = row[at["tier"]]
        samples.setdefault(row[at["model"]], []).append(row)
    prices = {}
    for model, seen in samples.items():
        tokens = np.array([[r[at["input_tokens"]], r[at["output_tokens"]]] for r in seen], dtype=float)
        costs = np.array([r[at["cost_usd"]] for r in seen], dtype=float)
        (per_input, per_output), *_ = np.linalg.lstsq(tokens, costs, rcond=None)
        prices[model] = (float(per_input), float(per_output))
    return tiers, prices


if __name__ == "__main__":
    raise SystemExit(main())
