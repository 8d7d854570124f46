"""Apply as one call of ``configsync_apply(plan jsonb)``: one transaction.

The function (installed by the migration of `configsync supabase migration`)
takes the advisory lock, checks the rows the plan was checked against, writes
in order and records the history row, all in one transaction.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ... import readback, values
from ...errors import BackendError, NotConvergedError, OutcomeUnknownError, StalePlanError
from ...values import Row, Value
from ..base import ApplyOutcome, Operation, ReadSpec, Verify, WriteBatch
from ..messages import safe_error
from ..pgcommon import text_cast
from .client import RETRY_STATUSES, RestClient, json_object
from .codec import expected_rows, from_rest, to_rest
from .settings import KEY_HINT

FUNCTION = "configsync_apply"
PAYLOAD_FORMAT = "configsync-apply/1"

_NO_FUNCTION = (
    "the REST API knows no configsync_apply function, so this apply cannot run as one transaction. "
    "Install it: `configsync supabase migration --write supabase/migrations`, then `supabase db push`. "
    "If it is installed already, PostgREST's schema cache predates it: run "
    "`notify pgrst, 'reload schema';` in the SQL editor (the migration ends with it). "
    "Or run apply with --non-atomic (each change is a separate request; the result is verified by "
    "reading back). Nothing was changed."
)


def missing_function_message(role: str | None) -> str:
    """Why apply refuses without the function, for a key acting as ``role``."""
    if role == "service_role":
        return _NO_FUNCTION
    # The OpenAPI description lists only the functions this key may call.
    return f"{_NO_FUNCTION} If it is installed, this key may not call it: {KEY_HINT}."


def payload(batch: WriteBatch, current: Mapping[str, list[Row]]) -> dict[str, Value]:
    """The function's argument: the whole batch, and the rows it was checked against."""
    reads: list[Value] = []
    for spec in batch.reads:
        columns: list[Value] = []
        for name in spec.columns:
            column = spec.table.column(name)
            columns.append({"name": name, "cast": text_cast(column) if column else None})
        expected: list[Value] = expected_rows(spec.table, current[spec.table.name])
        reads.append({"table": spec.table.name, "key": list(spec.key), "columns": columns,
                      "expected": expected})
    operations: list[Value] = []
    for op in batch.operations:
        sent: dict[str, Value] = {"action": op.action, "table": op.table.name, "key": to_rest(op.table, op.key),
                                  "values": to_rest(op.table, op.values), "file": op.file}
        if op.action != "delete" and op.expected is not None:
            sent["expected"] = to_rest(op.table, op.expected)
            sent["readback"] = _readback_columns(op, batch.json_excludes.get(op.table.name, {}))
        operations.append(sent)
    return {
        "format": PAYLOAD_FORMAT,
        "lock_timeout_ms": int(batch.lock_timeout * 1000),
        "history_table": batch.history_table,
        "reads": reads,
        "operations": operations,
        "history": batch.history.to_row(),
    }


#: undefined table, function, object, column: what a trigger counting on public
#: in the search_path meets inside the function.
_NOT_FOUND_BY_NAME = frozenset({"42P01", "42883", "42704"})

#: Kinds the function compares as typed values (instants, uuids in any case),
#: as values.equal does; every other kind by its JSON (numbers by value).
_TYPED = ("timestamp", "date", "time", "uuid")


def _readback_columns(op: Operation, excluded: readback.ColumnPaths) -> list[Value]:
    """How the function reads back and compares the row ``op`` writes: per
    column, its read cast, how to compare, the excluded json paths to ignore."""
    assert op.expected is not None
    wanted = set(op.key) | set(op.expected)
    columns: list[Value] = []
    for column in op.table.columns:
        if column.name not in wanted:
            continue
        entry: dict[str, Value] = {"name": column.name, "cast": text_cast(column)}
        if column.name in op.expected:
            typed = column.kind in _TYPED or (column.kind == "array" and column.element_kind in _TYPED)
            entry["compare"] = "typed" if typed else "json"
            entry["strip"] = [list(path) for path in excluded.get(column.name, ())]
        columns.append(entry)
    return columns


def _written(batch: WriteBatch, answer: object) -> dict[str, list[Row]]:
    """The rows the function read back (``[{"op": index, "row": {...}}]``), per table."""
    rows: dict[str, list[Row]] = {}
    for item in answer if isinstance(answer, list) else []:
        index = item.get("op") if isinstance(item, dict) else None
        row = item.get("row") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(batch.operations) or not isinstance(row, dict):
            continue
        table = batch.operations[index].table
        decoded: Row = {}
        for name, value in row.items():
            column = table.column(name)
            decoded[name] = from_rest(column, value) if column is not None else value
        rows.setdefault(table.name, []).append(decoded)
    return rows


def _exact(content: bytes) -> dict[str, Value]:
    """A JSON object with every number exact (json_object gives floats)."""
    try:
        data = values.loads(content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def apply_in_one_call(
    client: RestClient,
    batch: WriteBatch,
    current: Mapping[str, list[Row]],
    verify: Verify,
    *,
    read: Callable[[ReadSpec], list[Row]],
    recorded: Callable[[WriteBatch], bool],
    missing_function: str,
) -> ApplyOutcome:
    """Call the function once. ``read`` re-reads a table (to name the rows of a
    stale plan), ``recorded`` says whether the history holds this batch (when
    the answer was lost; BackendError when the history cannot be read),
    ``missing_function`` is the refusal without it."""
    unknown = ""
    try:
        response = client.request("POST", f"rpc/{FUNCTION}", body={"plan": payload(batch, current)},
                                  timeout=batch.lock_timeout + 120.0)
    except BackendError as exc:
        unknown = str(exc)
    else:
        if response.status_code in RETRY_STATUSES - {429} and not json_object(response).get("code"):
            # A gateway's error, not the database's: the call may have run.
            unknown = f"{client.display_url} answered the apply with HTTP {response.status_code}"
    if unknown:
        # The transaction committed or it did not; the history says which,
        # when it can be read: the message says whether it was.
        try:
            if recorded(batch):
                return ApplyOutcome()
        except BackendError as exc:
            checked = (f"Which one is not known: the history table {batch.history_table} could not be read "
                       f"either ({exc}). Once {client.display_url} answers again, run `configsync status` "
                       "(it shows the last apply recorded) or `configsync plan` to see whether the changes "
                       "are still to do")
        else:
            checked = (f"The history table {batch.history_table}, read after the failure, does not show this "
                       "apply (an apply still waiting for the lock may yet commit): run `configsync plan` to see "
                       "whether the changes are still to do")
        raise OutcomeUnknownError(
            f"{unknown}. configsync_apply runs in one transaction, so the database holds all of this "
            f"apply's changes or none of them. {checked}"
        )
    if response.is_success:
        result = json_object(response)
        expected = {a: sum(op.action == a for op in batch.operations) for a in ("insert", "update", "delete")}
        done = {"insert": result.get("inserted"), "update": result.get("updated"), "delete": result.get("deleted")}
        if done != expected:
            # Counts only: the answer's "written" rows are values.
            raise BackendError(f"configsync_apply answered {done}, expected {expected}: check the database")
        if "written" not in result:
            return ApplyOutcome([
                "the configsync_apply function installed is from an older configsync and does not read back "
                "what it wrote; generate and deploy a new migration (`configsync supabase migration`)"])
        # The function found every value as written; the same check as the
        # other backends, on the rows it read back, to be sure.
        found = readback.differences(batch, _written(batch, _exact(response.content).get("written")))
        if found:
            raise OutcomeUnknownError(readback.message(found, committed=True))
        return ApplyOutcome()
    body = json_object(response)
    code = str(body.get("code") or "")
    hint = str(body.get("hint") or "")
    if code == "PGRST202":
        raise BackendError(missing_function)
    if code == "CS001":
        # Re-read so the message names the rows, as on the other backends.
        verify({spec.table.name: read(spec) for spec in batch.reads})
        raise StalePlanError(
            "the database changed while the apply was being prepared (" + safe_error(str(body.get("message"))) +
            ").\nNothing was applied. Make a new plan and review it."
        )
    if code == "CS004":
        # The database stored other values than written: rolled back. Named
        # from the rows the function read back, as on the other backends.
        detail = _exact(str(body.get("details") or "{}").encode())
        failing = detail.get("operations")
        indexes = [i for i in failing if isinstance(i, int) and 0 <= i < len(batch.operations)] \
            if isinstance(failing, list) else []
        answer = detail.get("written")
        rows = _written(batch, answer)
        # The function returns the first rows that differ; the rest by count.
        returned = {item.get("op") for item in answer if isinstance(item, dict)} if isinstance(answer, list) else set()
        named = [i for i in indexes if i in returned]
        found = readback.differences(batch, rows, [batch.operations[i] for i in named])
        if not found:
            found = [f"{batch.operations[i].table.name} {batch.operations[i].file}: the row read back differs "
                     "from what was written" for i in named] or ["a row read back differs from what was written"]
        if len(indexes) > len(named):
            found.append(f"... and {len(indexes) - len(named)} more rows")
        raise NotConvergedError(readback.message(found))
    if code == "CS002":
        raise BackendError(f"{safe_error(str(body.get('message')))}; {hint}. Nothing was changed.")
    where = ""
    match = re.match(r"configsync-operation:(\d+)", hint)
    if match and int(match.group(1)) < len(batch.operations):
        op = batch.operations[int(match.group(1))]
        where = f" at {op.table.name} {op.file}"
    advice = ""
    if where and code in _NOT_FOUND_BY_NAME:
        # The function found every managed table; a name it did not find is a
        # trigger's (or a default's) that counted on public in the search_path.
        advice = (f"; {FUNCTION} runs with search_path = pg_catalog, pg_temp (nothing in public is found by "
                  "name): schema-qualify what the table's triggers use (public.x), or give the trigger "
                  "function its own search_path (ALTER FUNCTION ... SET search_path = public)")
    raise BackendError(f"apply failed{where}: {client.explain(response)}{advice}; nothing was changed")
