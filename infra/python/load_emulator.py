"""The AWS emulator for load runs (scripts/load): emulator.py's server, one
request at a time as there, with two of moto's costs that grow with the table
taken out, so that hundreds of people measure the service and not moto's
bookkeeping. Semantics are unchanged.

1. A DynamoDB transaction backs up the whole table before it writes (to roll
   back if it is cancelled), once per item in it: with a few thousand items a
   transaction took seconds, past the functions' SDK timeouts. Here the backup
   shares the untouched items with the table and copies only the items the
   transaction names (the only ones it can change) and the stream's record
   list; a cancelled transaction restores exactly as before.
2. moto keeps every model instance it ever created, for its dashboard and
   /moto-api/data.json, including each backup copy of each item; the mailbox
   reads data.json, which then took seconds. Here DynamoDB and Streams
   instances are not kept (SES messages still are).

    python infra/python/load_emulator.py --host 127.0.0.1 --port 4566
"""

import contextvars
import copy
import sys
import types
from collections import defaultdict
from pathlib import Path
from typing import Any

import moto.dynamodb.models as dynamodb_models
import moto.dynamodbstreams.models  # noqa: F401  (registers the Streams models before tracking is turned off)
from moto.core.model_instances import model_data
from moto.dynamodb.models.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emulator  # noqa: E402

# The keys each table's items are named by in the transaction being run, while it runs.
_touched: contextvars.ContextVar[dict[str, list[dict[str, Any]]] | None] = contextvars.ContextVar(
    "touched", default=None
)


class _NotTracked(list):
    """A list that forgets what is appended: moto's per-class instance registry, switched off."""

    def append(self, _instance: Any) -> None:
        pass


def _backup(backend: Any, table: Table, keys: list[dict[str, Any]]) -> Table:
    """A copy of `table` that is as good as a deep copy for rolling back a
    transaction that writes only `keys`: those items copied, the rest shared."""
    backup = copy.copy(table)
    backup.items = defaultdict(dict)
    for hash_key, value in table.items.items():
        backup.items[hash_key] = dict(value) if isinstance(value, dict) else value
    for key in keys:
        try:
            hash_value, range_value = backend.get_keys_value(table, key)
            item = table.get_item(hash_value, range_value)
        except Exception:  # a malformed key: moto's own code reports it
            continue
        if item is None:
            continue
        if table.range_key_attr is not None:
            backup.items[hash_value][range_value] = copy.deepcopy(item)
        else:
            backup.items[hash_value] = copy.deepcopy(item)
    if table.stream_shard is not None:
        shard = copy.copy(table.stream_shard)
        shard.items = list(table.stream_shard.items)
        shard.table = backup
        backup.stream_shard = shard
    return backup


def _deepcopy(value: Any, memo: Any = None) -> Any:
    touched = _touched.get()
    if touched is not None and isinstance(value, Table):
        # moto asks once per item of the transaction, all before it writes: one backup serves.
        backups = touched.setdefault("__backups__", {})
        if value.name not in backups:
            backups[value.name] = _backup(touched["__backend__"], value, touched.get(value.name, []))
        return backups[value.name]
    return copy.deepcopy(value, memo)


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    touched: dict[str, Any] = {"__backend__": self}
    for entry in transact_items:
        for op_type, op in entry.items():
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                item = op.get("Item", {})
                key = {table.hash_key_attr: item.get(table.hash_key_attr)}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = item.get(table.range_key_attr)
            else:
                key = op.get("Key", {})
            touched.setdefault(table.name, []).append(key)
    token = _touched.set(touched)
    try:
        return _transact_write_items(self, transact_items)
    finally:
        _touched.reset(token)


def apply() -> None:
    dynamodb_models.copy = types.SimpleNamespace(deepcopy=_deepcopy, copy=copy.copy)
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items
    for service in ("dynamodb", "dynamodbstreams"):
        for model in model_data.get(service, {}).values():
            model.instances_tracked = _NotTracked()  # type: ignore[attr-defined]


if __name__ == "__main__":
    apply()
    emulator.main()
