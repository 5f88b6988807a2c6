"""Dequantise a GGUF file once into the toolkit cache as a safetensors folder.

transformers reads GGUF by dequantising every tensor, which took ~35 s for SmolLM2-135M, most of
it not dequantising: it parsed the file three times (config, tokenizer, weights; ~9 s each for a
49k-word vocabulary) and rebuilt gguf's tensor-name table once per tensor (~11 s). During the
conversion :func:`_parse_once` lets one parse and one table serve every call (~10 s in all). The result is saved under ``<cache>/models/<name>-<sha12>/`` (temp folder + rename, so a killed
conversion never leaves a half-written folder); runs that load it at the same moment (a sweep's
workers, the test suite's processes) convert it once: the others wait on a file lock beside it, then
read it. Later loads read it in ~1 s.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from debiasbench.api import DebiasbenchError
from debiasbench.api.lm import progress
from debiasbench_hf.quiet import quiet_transformers

SOURCE_RECORD = "debiasbench-gguf-source.json"


def converted_folder(cache_root: Path, name: str, sha256: str) -> Path:
    """Where the dequantised copy of a GGUF file with this digest lives."""
    return cache_root / "models" / f"{name}-{sha256[:12]}"


def ensure_converted(gguf_path: Path, name: str, sha256: str, cache_root: Path) -> Path:
    """The cached safetensors folder for ``gguf_path``, converting it first if it is not there yet."""
    target = converted_folder(cache_root, name, sha256)
    if (target / "config.json").is_file():
        return target
    for other in sorted(target.parent.glob(f"*-{sha256[:12]}")):  # same file converted under another name
        if (other / "config.json").is_file() and not other.name.startswith("."):
            return other
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / f".{target.name}.lock"):  # a run converting it already: wait, then read its folder
        if (target / "config.json").is_file():
            return target
        tmp = target.parent / f".{target.name}-{uuid.uuid4().hex[:12]}"  # renamed into place whole, never read half-written
        try:
            tmp.mkdir(parents=True)
            _convert(gguf_path, tmp, name)
            (tmp / SOURCE_RECORD).write_text(json.dumps({"gguf": str(gguf_path), "sha256": sha256}, indent=2))
            os.replace(tmp, target)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if not isinstance(exc, OSError) or not (target / "config.json").is_file():  # not a concurrent winner of the rename
                raise
    return target


def _convert(gguf_path: Path, out: Path, name: str) -> None:
    """Dequantise to float32 and save as safetensors + tokenizer (no GGUF quantizer left behind)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with progress(f"converting {name} from GGUF (once)", total=3) as bar, quiet_transformers(), _parse_once():
        try:
            bar.advance(0, step="tokenizer")
            tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            bar.advance(1, step="dequantising weights")
            with contextlib.redirect_stderr(io.StringIO()):  # transformers' own tqdm bar ignores its progress switch
                model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        except (ValueError, OSError, KeyError, RuntimeError) as exc:
            lines = str(exc).strip().splitlines()
            raise DebiasbenchError(
                f"cannot read {gguf_path} as a GGUF causal LM: {lines[0] if lines else type(exc).__name__}"
            ) from exc
        bar.advance(1, step="saving safetensors")
        model.hf_quantizer = None  # weights are plain float tensors now; don't save a GGUF quantization_config
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        bar.advance(1, step="done")


@contextlib.contextmanager
def _parse_once() -> Iterator[None]:
    """Within the block, ``gguf.GGUFReader`` returns one reader per file and ``gguf.get_tensor_name_map``
    is memoised (transformers imports both from ``gguf`` at call time). Both are pure reads of an
    unchanging file, so the result is byte-identical (tested against an unpatched conversion)."""
    try:
        import gguf
    except ImportError:
        yield
        return
    real_reader, real_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], object] = {}

    def shared_reader(path: object, mode: str = "r") -> object:
        key = (str(path), mode)
        if key not in readers:
            readers[key] = real_reader(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = shared_reader, functools.lru_cache(maxsize=None)(real_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = real_reader, real_map
