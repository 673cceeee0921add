"""Settings resolution: argument, then TIERMIX_*, then OTEL_*, then the default."""

from __future__ import annotations

from tiermix._config import DEFAULT_MAX_QUEUE, resolve


def test_zero_configuration_uses_the_local_collector_default() -> None:
    s = resolve({})
    assert s.traces_url == "http://127.0.0.1:4318/v1/traces"
    assert s.service == "unknown_service"
    assert s.max_queue == DEFAULT_MAX_QUEUE
    assert not s.capture_content and not s.disabled and s.spool_dir is None


def test_argument_beats_tiermix_variable_beats_otel_variable() -> None:
    env = {
        "TIERMIX_ENDPOINT": "http://tm:1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:2",
        "TIERMIX_SERVICE": "tm-svc",
        "OTEL_SERVICE_NAME": "otel-svc",
    }
    assert resolve(env, endpoint="http://arg:3/").traces_url == "http://arg:3/v1/traces"
    assert resolve(env).traces_url == "http://tm:1/v1/traces"
    assert resolve(env).service == "tm-svc"
    del env["TIERMIX_ENDPOINT"], env["TIERMIX_SERVICE"]
    assert resolve(env).traces_url == "http://otel:2/v1/traces"
    assert resolve(env).service == "otel-svc"


def test_signal_specific_otel_endpoint_is_used_verbatim() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom/path",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:1",
    }
    assert resolve(env).traces_url == "http://c:4318/custom/path"


def test_api_key_becomes_a_bearer_header_next_to_otel_headers() -> None:
    env = {"TIERMIX_API_KEY": "tmk_1", "OTEL_EXPORTER_OTLP_HEADERS": "x-team=cx,x-note=a%20b"}
    headers = dict(resolve(env).headers)
    assert headers == {"Authorization": "Bearer tmk_1", "x-team": "cx", "x-note": "a b"}


def test_resource_attributes_give_service_and_environment_and_the_rest_is_kept() -> None:
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=billing,deployment.environment=prod,team=cx"}
    s = resolve(env)
    assert (s.service, s.environment) == ("billing", "prod")
    assert s.resource_attributes == (("team", "cx"),)


def test_flags_and_numbers_are_read_from_tiermix_variables() -> None:
    env = {
        "TIERMIX_CAPTURE_CONTENT": "true",
        "TIERMIX_DISABLED": "1",
        "TIERMIX_MAX_QUEUE": "7",
        "TIERMIX_SPOOL_DIR": "/tmp/x",
        "TIERMIX_TENANT": "acme",
        "TIERMIX_ROUTE": "r",
        "TIERMIX_ENVIRONMENT": "staging",
    }
    s = resolve(env)
    assert (s.capture_content, s.disabled, s.max_queue, s.spool_dir) == (True, True, 7, "/tmp/x")
    assert (s.tenant, s.route, s.environment) == ("acme", "r", "staging")
    assert resolve(env, disabled=False, capture_content=False).disabled is False


def test_malformed_number_falls_back_to_the_default_instead_of_failing() -> None:
    assert resolve({"TIERMIX_MAX_QUEUE": "lots"}).max_queue == DEFAULT_MAX_QUEUE
