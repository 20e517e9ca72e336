"""One redaction step for every tool output and error: the configured secret values never leave the server.

A value is secret when its environment variable's name says so (`..._TOKEN`, `..._KEY`, `..._SECRET`,
`..._PASSWORD`, `..._PASSPHRASE`, `KUBECONFIG`, ...) and it is long enough to be a credential; the ESC
environment exports every credential under such a name (`infra_assets/specs/esc.py`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from resources.http_retry import redact

SECRET_NAME = re.compile(r"(TOKEN|KEY|SECRET|PASSWORD|PASSPHRASE|CREDENTIAL|KUBECONFIG|AUTH)", re.IGNORECASE)
MIN_SECRET_CHARS = 8  # shorter values ("1", "true") would mangle ordinary output and are not credentials


def secret_values(environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The secret values configured in `environ` (default: the process environment), longest first."""
    env = os.environ if environ is None else environ
    values = {v for name, v in env.items() if SECRET_NAME.search(name) and len(v) >= MIN_SECRET_CHARS}
    values |= {v for v in extra if v and len(v) >= MIN_SECRET_CHARS}
    return tuple(sorted(values, key=len, reverse=True))  # a secret containing another is masked whole


class Redactor:
    """Masks the secret values it was given in strings, and in every string inside lists and dicts."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(secrets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        return cls(secret_values(environ))

    def text(self, value: str) -> str:
        return redact(value, self.secrets)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value
