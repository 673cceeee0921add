"""tiermix dashboard: a Streamlit app that reads the tiermix query API over HTTP only.

Layers, each one concept: ``api_client`` (HTTP), ``queries`` (API JSON → DataFrames), ``charts``
(DataFrame → Plotly figure), ``filters`` (sidebar → frozen filter object, mirrored in the URL),
``cache`` (the only module that caches), ``components`` (shared widgets) and thin page files in
``views/``. Nothing here imports the server package: the numbers FinOps sees are the numbers the API
serves, with tenant scoping enforced by the API.
"""
