"""Apply without configsync_apply (``--non-atomic``): one request per change.

Nothing makes the changes one transaction, so the result is read back and
reported change by change; a failure half-way is an OutcomeUnknownError, and
the workspace keeps the backup of the previous state.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ... import readback, values
from ...errors import BackendError, OutcomeUnknownError
from ...values import Row
from ..base import ApplyOutcome, Operation, ReadSpec, WriteBatch
from .client import RestClient, content_range_total
from .codec import filter_text, ident, split, to_rest


def apply_step_by_step(client: RestClient, batch: WriteBatch, read: Callable[[ReadSpec], list[Row]]) -> ApplyOutcome:
    """Send every change in order, record the apply, then read each table back
    (``read``) and check that every change is there."""
    done: list[Operation] = []
    failure = ""
    for op in batch.operations:
        try:
            _write(client, op)
        except BackendError as exc:
            failure = f"at {op.table.name} {op.file}: {exc}"
            break
        done.append(op)
    recorded = ""
    if not failure:
        recorded = _record(client, batch)
    try:
        after = {spec.table.name: read(spec) for spec in batch.reads}
    except BackendError as exc:
        raise _partial(
            f"apply stopped {failure}" if failure else "apply sent every change",
            f"but reading the database back to check them failed: {exc}",
            batch, done, None,
        ) from None
    applied = [op for op in batch.operations if _is_applied(op, after, batch.reads)]
    missing = [op for op in batch.operations if op not in applied]
    if failure or missing:
        raise _partial(f"apply stopped {failure}" if failure else "apply sent every change, but",
                       "", batch, applied, missing)
    found = readback.differences(batch, after)
    if found:  # written and kept: no transaction to roll back
        raise OutcomeUnknownError(readback.message(found, committed=True) + "\n(--non-atomic: every change "
                                  "is a separate request, so none could be rolled back.)")
    notes = [f"--non-atomic: {len(batch.operations)} changes were sent as separate requests; "
             "reading the database back found every one applied"]
    if recorded:
        notes.append(recorded)
    return ApplyOutcome(notes)


def _write(client: RestClient, op: Operation) -> None:
    schema, name = split(op.table.name)
    what = f"{op.action} of {op.table.name} {op.file}"
    prefer = {"Prefer": "return=minimal, count=exact, timezone=UTC"}
    if op.action == "insert":
        response = client.request("POST", name, schema=schema, body=to_rest(op.table, op.values),
                                  headers={"Prefer": "return=minimal, timezone=UTC"})
        if not response.is_success:
            raise BackendError(client.explain(response, op.table.name))
        return
    filters = [(ident(k), f"eq.{filter_text(op.table.name, k, v)}") for k, v in to_rest(op.table, op.key).items()]
    if op.action == "delete":
        response = client.request("DELETE", name, schema=schema, params=filters, headers=prefer)
    else:
        response = client.request("PATCH", name, schema=schema, params=filters, headers=prefer,
                                  body=to_rest(op.table, op.values))
    if not response.is_success:
        raise BackendError(client.explain(response, op.table.name))
    touched = content_range_total(response)
    if touched != 1:
        raise BackendError(f"{what} touched {touched} rows instead of 1 (is the key unique?)")


def _record(client: RestClient, batch: WriteBatch) -> str:
    """Insert the history row; a note when that is impossible."""
    row = batch.history.to_row()
    if not batch.history.applied_at:
        del row["applied_at"]  # the column's default: the database's now()
    schema, name = split(batch.history_table)
    try:
        response = client.request("POST", name, schema=schema, body=row,
                                  headers={"Prefer": "return=minimal, timezone=UTC"})
    except BackendError as exc:
        return f"the apply was not recorded in {batch.history_table}: {exc}"
    if response.is_success:
        return ""
    return (f"the apply was not recorded in {batch.history_table} "
            f"({client.explain(response, batch.history_table)}), "
            "so `configsync status` does not show it; the migration from `configsync supabase migration` "
            "creates that table")


def _is_applied(op: Operation, after: Mapping[str, list[Row]], reads: Sequence[ReadSpec]) -> bool:
    spec = next((s for s in reads if s.table.name == op.table.name), None)
    if spec is None:
        return False
    kinds = {c.name: c.kind for c in op.table.columns}
    wanted = [values.canonical(op.key.get(k)) for k in spec.key]
    row = next((r for r in after[spec.table.name]
                if [values.canonical(r.get(k)) for k in spec.key] == wanted), None)
    if op.action == "delete":
        return row is None
    if row is None:
        return False
    return all(values.equal(value, row.get(name), kinds.get(name, "other"))
               for name, value in op.values.items() if name in row)


def _label(op: Operation) -> str:
    symbol = {"insert": "+", "update": "~", "delete": "-"}[op.action]
    key = ", ".join(str(v) for v in op.key.values())
    return f"{symbol} {op.table.name} {key}  {op.file}"


def _partial(head: str, tail: str, batch: WriteBatch, applied: list[Operation],
             missing: list[Operation] | None) -> OutcomeUnknownError:
    """The report of an apply that stopped or was not all applied: what is
    in the database and what is not (``missing`` None: not read back)."""
    lines = [f"{head} {tail}".strip() + " (--non-atomic: every change is a separate request)."]
    if missing is None:
        lines.append(f"Sent before it stopped ({len(applied)} of {len(batch.operations)}), not verified:")
        lines += [f"  {_label(op)}" for op in applied]
    else:
        lines.append(f"Reading the database back: {len(applied)} of {len(batch.operations)} changes applied.")
        if applied:
            lines.append("Applied:")
            lines += [f"  {_label(op)}" for op in applied]
        if missing:
            lines.append("Not applied:")
            lines += [f"  {_label(op)}" for op in missing]
    lines.append(
        f"The apply is not recorded in {batch.history_table}. Fix the cause and run apply again "
        "(it plans only what is still to do), or restore the previous state from the backup."
    )
    return OutcomeUnknownError("\n".join(lines))
