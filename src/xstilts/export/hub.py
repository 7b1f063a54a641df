"""``--push-to-hub``: upload an exported folder with huggingface_hub, refused when offline.

Checked before anything is written: without network huggingface_hub retries for ~25 s and then
fails with a connection error that does not say the folder itself is fine.
"""

from __future__ import annotations

import os
from pathlib import Path

from xstilts.errors import XstiltsError
from xstilts.models.encoders import hub_reachable

_OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def offline_reason() -> str | None:
    """Why the hub cannot be used now (an offline switch, no connection), or None."""
    for name in _OFFLINE_SWITCHES:
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{name}={os.environ[name]} is set (offline mode)"
    if not hub_reachable():
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        return f"the Hugging Face hub ({endpoint}) cannot be reached from this machine"
    return None


def check_can_push(repo: str) -> None:
    reason = offline_reason()
    if reason:
        raise XstiltsError(f"--push-to-hub {repo}: {reason}. Export without --push-to-hub, "
                           f"then upload the folder when online: hf upload {repo} DIR")


def push_folder(folder: Path, repo: str) -> str:
    """Create ``repo`` (a model repo; private stays the hub's default) and upload ``folder``."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    try:
        api.create_repo(repo, repo_type="model", exist_ok=True)
        info = api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type="model",
                                 commit_message="Upload model exported by xstilts export-model")
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise XstiltsError(f"--push-to-hub {repo}: upload of {folder} failed: {err}. The "
                           f"folder is complete; retry with: hf upload {repo} {folder}") from err
    return str(getattr(info, "commit_url", repo))
