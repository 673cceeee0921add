"""Production traffic for shadow-replay tests, sent as an application would (its own process, own SDK).

``python -m tests.support.quiz_traffic --endpoint URL --provider URL --questions 300`` asks the quiz
provider (tests/fakes/quiz_provider.py) question 0..N-1 through the real anthropic (``--client
anthropic``) or openai client, instrumented by tiermix with ``capture`` on, one cascade per question
with a router decision (score ``0.5 + 0.05 x (n % 10)``: the questions the weak model gets wrong score
higher). With ``--split K`` the router sends questions with ``n % 10 < K`` to ``--weak-model`` (which
knows them all) and the rest to ``--model``. Then it flushes and prints the calls acknowledged.
"""

from __future__ import annotations

import argparse

import tiermix
from tests.fakes.quiz_provider import question


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--provider", required=True, help="the quiz provider's base URL")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--route", default="quiz")
    parser.add_argument("--model", default="claude-opus-4")
    parser.add_argument("--client", choices=("anthropic", "openai"), default="anthropic")
    parser.add_argument("--capture", type=float, default=1.0)
    parser.add_argument("--email", default="", help="an e-mail address written into every question")
    parser.add_argument("--split", type=int, default=0)
    parser.add_argument("--weak-model", default="claude-3-5-haiku-latest")
    parser.add_argument("--api-key", default=None, help="the collector's ingest key, when auth is on")
    args = parser.parse_args()
    tiermix.init(endpoint=args.endpoint, service="quiz-app", export_interval_s=0.05, api_key=args.api_key)
    tiermix.instrument(capture=args.capture)
    if args.client == "anthropic":
        import anthropic

        client = anthropic.Anthropic(base_url=args.provider, api_key="test", max_retries=0)
    else:
        import openai

        oa = openai.OpenAI(base_url=args.provider + "/v1", api_key="test", max_retries=0)
    for n in range(args.first, args.first + args.questions):
        text = question(n) + (f" Reply to {args.email}." if args.email else "")
        messages = [{"role": "user", "content": text}]
        with tiermix.context(tenant=args.tenant), tiermix.cascade(route=args.route) as cascade:
            cascade.decide("quiz-router", "hard question", 0.5 + 0.05 * (n % 10))
            model = args.weak_model if n % 10 < args.split else args.model
            if args.client == "anthropic":
                client.messages.create(model=model, max_tokens=64, messages=messages)  # type: ignore[arg-type]
            else:
                oa.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
    tiermix.flush(30)
    print(tiermix.stats().exported_calls)
    tiermix.shutdown(10)


if __name__ == "__main__":
    main()
