"""Realistic demo traffic for tiermix: a simulated application sending through the real SDK.

Layers, read top to bottom: ``catalog`` (the simulated world: tenants, routes, models, tiers),
``scenario`` (scripted events at known times), ``cascade`` (one request: router choice, attempts,
escalations, failovers), ``traffic`` (the pure, seeded traffic model: arrivals per minute),
``bridge`` (a simulated request → SDK records), ``sender`` (batching through the SDK's export worker,
with backpressure), ``progress`` (the stderr progress line), ``runner`` (backfill + live loop) and
``embedded`` (``tiermix up --demo``). Nothing here fakes the collector: the traffic goes over HTTP.
"""
