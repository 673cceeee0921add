"""Calls: the raw call records behind every figure, newest first, and a cascade with all its attempts."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, components, tables, tiers

PAGE_ROWS = 100
STATUSES = {"": "Any status", "ok": "OK", "error": "Error"}

filters = components.page_header("Calls", "Every recorded LLM call (one row per attempt).")
left, middle, right = st.columns(3)
status = left.selectbox("Status", list(STATUSES), format_func=STATUSES.__getitem__, key="calls_status")
tier = middle.selectbox(
    "Tier", ["", *tiers.in_force()], format_func=lambda t: t or "Any tier", key="calls_tier"
)
model = right.text_input("Served model", key="calls_model", placeholder="e.g. gpt-4o-mini").strip()

# Cursor paging: the stack holds the cursor of each page seen; new filters start again at page 1.
query = (tuple(sorted(filters.query_params().items())), status, tier, model)  # not the moving "now"
if st.session_state.get("calls_query") != query:
    st.session_state["calls_query"] = query
    st.session_state["calls_cursors"] = [None]
cursors: list[str | None] = st.session_state["calls_cursors"]
calls, next_cursor = cache.load(
    "calls_page",
    filters,
    limit=PAGE_ROWS,
    cursor=cursors[-1],
    status=status or None,
    tier=tier or None,
    model=model or None,
)
if calls.empty and len(cursors) == 1:
    components.empty_state(filters, "calls")
else:
    shown, config = tables.displayed(
        calls[list(components.CALL_TABLE_COLUMNS)], components.CALL_COLUMN_CONFIG
    )
    selection = st.dataframe(
        shown, hide_index=True, key="calls_table", on_select="rerun", selection_mode="single-row",
        column_config=config,
    )  # fmt: skip
    components.download(calls, f"calls page {len(cursors)}")
    back, page, forward = st.columns([1, 2, 1])
    if back.button("← Newer", disabled=len(cursors) == 1, key="calls_newer"):
        cursors.pop()
        st.rerun()
    page.caption(f"Page {len(cursors)} · {len(calls)} calls, newest first. Select a row to see its request.")
    if forward.button("Older →", disabled=not next_cursor, key="calls_older"):
        cursors.append(next_cursor)
        st.rerun()

    st.subheader("Request detail")
    picked = selection.selection.rows
    default_id = str(calls.iloc[picked[0]]["request_id"]) if picked else ""
    typed = st.text_input("Request id (hex)", value=default_id, key=f"calls_request_{default_id}")
    request_id = typed.strip()
    if request_id:
        detail = cache.load("request_detail", request_id, filters.tenant)
        components.cascade(detail)
    else:
        st.caption("Select a call above, or paste a request id, to see every attempt of its cascade.")
