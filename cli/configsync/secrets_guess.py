"""Which columns `init` marks `secret` before writing a single record file.

A first snapshot would otherwise put API keys and tokens into git in plain
text, where no later `secret:` can take them back out of the history. The
guess is deliberately generous; a column marked by mistake costs one line in
configsync.yaml to undo, a column missed costs a credential rotation.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .backends import Column

# A column is secret when one word of its name is one of these...
SECRET_WORDS = frozenset({
    "secret", "secrets", "password", "passwd", "pwd", "passphrase", "credential", "credentials", "apikey",
    "privatekey", "jwt", "cookie", "salt",
})
# ...or its last word is "token" (access_token; not max_tokens or token_limit, which count tokens)...
COUNTING = frozenset({"max", "min", "num", "total", "count"})
# ...or its last word is "key" after one of these (api_key, private_key, accessKey).
KEY_QUALIFIERS = frozenset({"api", "private", "secret", "access", "signing", "encryption", "service", "auth",
                            "client", "master", "webhook", "license", "session"})
# ...or its comment says so.
SECRET_COMMENT = re.compile(r"\b(secret|password|token|credential|api[ _-]?key|private[ _-]?key)s?\b", re.IGNORECASE)

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def words(name: str) -> list[str]:
    """snake_case, kebab-case and camelCase names as lower-case words."""
    return [w.lower() for part in re.split(r"[^A-Za-z0-9]+", name) for w in _WORDS.findall(part)]


def looks_secret(column: Column) -> bool:
    found = words(column.name)
    if any(w in SECRET_WORDS for w in found):
        return True
    if found and found[-1] == "token" and (len(found) == 1 or found[-2] not in COUNTING):
        return True
    if len(found) >= 2 and found[-1] in ("key", "keys") and found[-2] in KEY_QUALIFIERS:
        return True
    return bool(column.comment and SECRET_COMMENT.search(column.comment))


def secret_columns(
    table: str, columns: Iterable[Column], key: Sequence[str], *, guess: bool, named: Iterable[str],
) -> tuple[str, ...]:
    """The columns of ``table`` to mark secret: those named (``COL`` or ``TABLE.COL``)
    and, with ``guess``, those whose name or comment says so. Key columns never:
    they name the files."""
    chosen = {n.split(".", 1)[1] for n in named if n.startswith(f"{table}.")} | {n for n in named if "." not in n}
    out = []
    for column in columns:
        if column.name in key:
            continue
        if column.name in chosen or (guess and looks_secret(column)):
            out.append(column.name)
    return tuple(out)
