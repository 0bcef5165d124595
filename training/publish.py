"""Stage a saved model folder and upload it to the Hugging Face Hub (the library behind ``rasd publish``).

Staging (:func:`stage`) copies exactly what is uploaded into one folder: safetensors weights,
``config.json``, tokenizer files, ``event_head.safetensors``, ``rasd.json`` (the
label schema), ``training_config.yaml``, ``metrics.json`` and ``README.md`` (the
model card rendered for the repo id); :func:`publish` stages into a temporary folder and uploads it.

Every failure the user can fix (not logged in, offline, no write access, bad
repo id, a folder without safetensors weights, a file that is a symbolic link to
outside the folder) becomes a :class:`PublishError` with one sentence; the command
(:mod:`rasd.training.publish_cli`) prints it and exits with status 2. A staging that fails
leaves no half-staged folder behind.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("config.json", "rasd.json", "event_head.safetensors")
OPTIONAL_FILES = ("training_config.yaml", "metrics.json")
WEIGHT_PATTERNS = ("model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json")
TOKENIZER_PATTERNS = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",  # sentencepiece (spiece.model, sentencepiece.bpe.model)
)
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model-*-of-*.bin", "event_head.bin", "event_head.pt")
CARD_NAME = "README.md"


class PublishError(Exception):
    """A failure explained in one sentence (shown without a traceback)."""


NOT_LOGGED_IN = (
    "Not logged in to the Hugging Face Hub: run `hf auth login` (or huggingface_hub.notebook_login() "
    "in a notebook), set HF_TOKEN, or pass --token."
)
OFFLINE = "Cannot publish in offline mode: unset HF_HUB_OFFLINE and try again."


def _matching(model_dir: Path, patterns: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in model_dir.iterdir() if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in patterns))


def files_to_upload(model_dir: str | Path) -> list[Path]:
    """The files of ``model_dir`` that belong on the Hub (the model card excluded: it is re-rendered).

    Raises :class:`PublishError` when the folder is not a complete rasd model with safetensors weights.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise PublishError(f"Model folder {model_dir} does not exist.")
    weights = _matching(model_dir, WEIGHT_PATTERNS)
    pickles = _matching(model_dir, PICKLE_WEIGHTS)
    if not any(p.suffix == ".safetensors" for p in weights):
        if pickles:
            raise PublishError(
                f"{model_dir} has only PyTorch .bin weights; re-save the model with safetensors "
                "(save_pretrained(..., safe_serialization=True)) before publishing."
            )
        raise PublishError(f"{model_dir} has no model weights (model.safetensors); is it a trained rasd model folder?")
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        if "event_head.safetensors" in missing and pickles:
            raise PublishError(f"{model_dir} has the event head only as a pickle; re-save it as event_head.safetensors.")
        raise PublishError(f"{model_dir} is not a complete rasd model folder: missing {', '.join(missing)}.")
    tokenizer = _matching(model_dir, TOKENIZER_PATTERNS)
    if not any(p.name in {"tokenizer.json", "tokenizer_config.json"} for p in tokenizer):
        raise PublishError(f"{model_dir} has no tokenizer files (tokenizer.json / tokenizer_config.json).")
    optional = [model_dir / n for n in OPTIONAL_FILES if (model_dir / n).is_file()]
    required = [model_dir / n for n in REQUIRED_FILES]
    files = sorted(set(weights + required + tokenizer + optional), key=lambda p: p.name)
    _refuse_outside_links(model_dir, files)
    return files


def _refuse_outside_links(model_dir: Path, files: list[Path]) -> None:
    """A symbolic link among ``files`` that resolves outside ``model_dir`` would upload whatever it
    points to (``training_config.yaml -> /etc/passwd``): refuse it. Links within the folder are fine."""
    root = model_dir.resolve()
    for path in files:
        if not path.is_symlink():
            continue
        target = path.resolve()
        if not target.is_relative_to(root):
            raise PublishError(
                f"{path} is a symbolic link to {target}, outside the model folder; refusing to upload it "
                "(copy the file into the folder if it belongs to the model)."
            )


def validate_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` when it is a valid ``ORG/NAME`` (or ``NAME``) model id, else raise :class:`PublishError`."""
    from huggingface_hub.utils import HFValidationError
    from huggingface_hub.utils import validate_repo_id as hub_validate

    try:
        hub_validate(repo_id)
    except HFValidationError as exc:
        raise PublishError(
            f"Invalid repo id {repo_id!r}: use ORG/NAME with letters, digits, '-', '_' or '.' "
            "(at most 96 characters, no '--' or '..')."
        ) from exc
    return repo_id


def stage(model_dir: str | Path, out_dir: str | Path, repo_id: str) -> list[Path]:
    """Copy the uploadable files of ``model_dir`` into ``out_dir`` and render the card for ``repo_id``.

    ``out_dir`` must not exist or be empty. Returns the staged files, sorted by name.
    """
    from rasd.training.card import render_model_card
    from rasd.training.card_facts import facts_from_model_dir

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    validate_repo_id(repo_id)
    files = files_to_upload(model_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise PublishError(f"Staging folder {out_dir} already exists and is not empty; choose a new folder.")
    created = out_dir  # the top folder this call creates (none when out_dir exists, empty)
    while not created.parent.exists():
        created = created.parent
    existed = out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for src in files:
            shutil.copy2(src, out_dir / src.name)
        card = render_model_card(facts_from_model_dir(model_dir, model_id=repo_id))
        (out_dir / CARD_NAME).write_text(card, encoding="utf-8")
    except BaseException:  # no half-staged folder left behind (a full disk, a bad card, Ctrl-C)
        if existed:  # it was empty: empty it again
            for child in out_dir.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        else:
            shutil.rmtree(created, ignore_errors=True)
        raise
    staged = sorted(out_dir.iterdir(), key=lambda p: p.name)
    logger.info("staged %d files for %s in %s", len(staged), repo_id, out_dir)
    return staged


# Connection and timeout errors of the HTTP clients huggingface_hub uses or has used.
TRANSPORT_ERRORS = (
    ("httpx2", "TransportError"),
    ("httpx", "TransportError"),
    ("requests", "ConnectionError"),
    ("requests", "Timeout"),
)


def network_errors() -> tuple[type[BaseException], ...]:
    """Connection/timeout error classes: Python's and those of the HTTP clients already imported
    (huggingface_hub imports its own), whichever client the installed huggingface_hub uses."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in TRANSPORT_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def hub_errors() -> tuple[type[BaseException], ...]:
    """What a Hub call raises when the user can act: huggingface_hub's errors (``OSError`` and
    ``ValueError`` subclasses: HTTP, token, offline, validation) and network errors."""
    return (OSError, ValueError, *network_errors())


def explain(exc: BaseException, repo_id: str) -> PublishError | None:
    """One-sentence :class:`PublishError` for a Hub failure the user can act on, ``None`` otherwise."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        LocalTokenNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(exc, PublishError):
        return exc
    if isinstance(exc, LocalTokenNotFoundError):
        return PublishError(NOT_LOGGED_IN)
    if isinstance(exc, OfflineModeIsEnabled):
        return PublishError(OFFLINE)
    if isinstance(exc, HFValidationError):
        return validate_error(repo_id)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, HfHubHTTPError) and status in (401, 403) or isinstance(exc, RepositoryNotFoundError):
        if status == 401:
            return PublishError(
                f"The Hub rejected your token for {repo_id} (401): log in again with `hf auth login` or pass a valid --token."
            )
        return PublishError(
            f"You have no write access to {repo_id}: the namespace belongs to another user or organisation "
            "you are not a member of, or your token is read-only."
        )
    if isinstance(exc, HfHubHTTPError):
        detail = (getattr(exc, "server_message", None) or "").strip().splitlines()
        reason = f": {detail[0]}" if detail else ""
        return PublishError(f"The Hub refused the upload to {repo_id} (HTTP {status}){reason}.")
    if isinstance(exc, network_errors()):
        return PublishError("Cannot reach the Hugging Face Hub: check your network connection (or HF_ENDPOINT) and try again.")
    return None


def validate_error(repo_id: str) -> PublishError:
    try:
        validate_repo_id(repo_id)
    except PublishError as err:
        return err
    return PublishError(f"The Hub rejected the repo id {repo_id!r}.")


def _offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    return flag or constants.is_offline_mode()


def publish(
    model_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
) -> Any:
    """Stage ``model_dir`` and upload it to ``repo_id`` (created if missing); return the hub's ``CommitInfo``.

    Raises :class:`PublishError` with one sentence for every failure the user can fix.
    """
    from huggingface_hub import HfApi, get_token

    validate_repo_id(repo_id)
    files_to_upload(model_dir)  # refuse early, before any network call
    if _offline():
        raise PublishError(OFFLINE)
    token = token or get_token()
    if not token:
        raise PublishError(NOT_LOGGED_IN)
    api = HfApi(token=token)
    message = commit_message or f"Upload rasd model from {Path(model_dir).name}"
    with tempfile.TemporaryDirectory(prefix="rasd-publish-") as tmp:
        staged_dir = Path(tmp) / "model"
        stage(model_dir, staged_dir, repo_id)
        try:
            url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
            logger.info("repository %s ready", url)
            if revision and revision != "main":
                api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=staged_dir,
                repo_type="model",
                revision=revision,
                commit_message=message,
            )
        except hub_errors() as exc:
            err = explain(exc, repo_id)
            if err is None:
                raise
            raise err from exc
    logger.info("published %s to %s", model_dir, getattr(info, "commit_url", repo_id))
    return info
