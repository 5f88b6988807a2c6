"""Resolve a Hugging Face hub id (``gpt2``, ``org/name``, ``org/name@revision``) to a local snapshot folder.

The Hub is asked first, with a short timeout, whether the repo exists and has safetensors; then only the
config, tokenizer and safetensors weights are downloaded into the Hugging Face cache. Offline
(``HF_HUB_OFFLINE=1`` or no network) a cached snapshot is used, and a missing one is one line
naming the offline alternative instead of a traceback or a long retry loop.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from debiasbench.api import DebiasbenchError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?(@[A-Za-z0-9][\w./-]*)?$")
WEIGHTS = ("model*.safetensors", "model.safetensors.index.json")
FILES = (
    "config.json", "generation_config.json", "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json",
    "added_tokens.json", "*.tiktoken", "spiece.model", "chat_template*",
)
OFFLINE_HINT = "use --model smollm2-135m-q4 (embedded, works offline) or a local model folder"


def looks_like_hub_id(spec: str) -> bool:
    """``name``, ``org/name`` or either with ``@revision``; not a path, not a ``.gguf`` file."""
    return bool(HUB_ID.match(spec)) and not spec.lower().endswith(".gguf") and ".." not in spec and "--" not in spec


def split_revision(spec: str) -> tuple[str, str | None]:
    """``org/name@rev`` -> (``org/name``, ``rev``); no ``@`` -> (spec, None)."""
    repo, _, revision = spec.partition("@")
    return repo, revision or None


def hub_timeout() -> float:
    """Seconds to wait for the Hub before treating it as out of reach (``HF_HUB_ETAG_TIMEOUT``, default 10)."""
    try:
        return float(os.environ.get("HF_HUB_ETAG_TIMEOUT", "10"))
    except ValueError:
        return 10.0


def hub_offline() -> bool:
    """True when the user switched the Hub off (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``)."""
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(flag.strip().lower() in ("1", "true", "yes", "on") for flag in flags)


def is_connection_error(exc: BaseException) -> bool:
    """Network failures from any HTTP stack huggingface_hub may use (httpx, httpx2, requests, urllib3)."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    for cls in type(exc).__mro__:
        package = cls.__module__.split(".")[0]
        if package in ("httpx", "httpx2", "requests", "urllib3", "socket") and any(
            word in cls.__name__ for word in ("Connect", "Timeout", "Network", "Transport", "Proxy")
        ):
            return True
    return False


def fetch_snapshot(spec: str, allow_code: bool, known_names: Iterable[str] = ()) -> tuple[Path, str]:
    """Download (or find cached) the files of hub model ``spec``; returns (snapshot folder, commit sha)."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo, revision = split_revision(spec)
    patterns = [*FILES, *WEIGHTS, *(["*.py"] if allow_code else [])]
    reason = "HF_HUB_OFFLINE is set" if hub_offline() else ""
    if not reason:
        try:
            info = HfApi().model_info(repo, revision=revision, timeout=hub_timeout())
        except GatedRepoError as exc:
            raise DebiasbenchError(
                f"{repo} is gated on the Hugging Face Hub: accept its licence at https://huggingface.co/{repo} "
                "and log in with `hf auth login`"
            ) from exc
        except RevisionNotFoundError as exc:
            raise DebiasbenchError(f"{repo} has no revision {revision!r} on the Hugging Face Hub") from exc
        except RepositoryNotFoundError as exc:
            raise DebiasbenchError(_not_found(spec, known_names)) from exc
        except Exception as exc:  # noqa: BLE001 - any network-level failure means "out of reach"
            if not is_connection_error(exc) and not _server_error(exc):
                raise DebiasbenchError(f"could not look up {spec!r} on the Hugging Face Hub: {_first_line(exc)}") from exc
            reason = type(exc).__name__
        else:
            names = [s.rfilename for s in (info.siblings or [])]
            if names and not any(n.endswith(".safetensors") and "/" not in n for n in names):
                raise DebiasbenchError(
                    f"{repo} has no safetensors weights on the Hugging Face Hub; debiasbench loads safetensors "
                    "only (no pickle): pick a revision or mirror that has them"
                )
    try:
        folder = snapshot_download(
            # the symbolic revision (not the commit) so the cache records refs/main for later offline loads
            repo, revision=revision, allow_patterns=patterns, local_files_only=bool(reason),
            etag_timeout=hub_timeout(),
        )
    except Exception as exc:  # noqa: BLE001 - converted to one line below
        if reason or is_connection_error(exc) or isinstance(exc, FileNotFoundError):
            why = reason or type(exc).__name__
            raise DebiasbenchError(
                f"the Hugging Face Hub is out of reach ({why}) and {spec!r} is not in the local Hugging Face cache"
                f"{_did_you_mean(spec, known_names, ' (did you mean {}?)')}; {OFFLINE_HINT}"
            ) from exc
        raise DebiasbenchError(f"could not download {spec!r} from the Hugging Face Hub: {_first_line(exc)}") from exc
    path = Path(folder)
    return path, path.name  # snapshot folders are named by commit sha


def _server_error(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return isinstance(status, int) and status >= 500


def _did_you_mean(spec: str, known_names: Iterable[str], template: str) -> str:
    """``template`` filled with the closest known name, or "" when none is close."""
    close = difflib.get_close_matches(spec, list(known_names), n=1, cutoff=0.6)
    return template.format(repr(close[0])) if close else ""


def _not_found(spec: str, known_names: Iterable[str]) -> str:
    hint = _did_you_mean(spec, known_names, "; did you mean {}?") or " (or it is private: log in with `hf auth login`)"
    return f"no model {spec!r} on the Hugging Face Hub and no local folder of that name{hint}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
