"""Provenance recorded with every run: the code version and the prepared data's manifest hash."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from finelabel.data.manifest import sha256_file

GIT_TIMEOUT_S = 5.0


def git_commit(path: str | Path | None = None) -> str | None:
    """The HEAD commit of the checkout holding ``path`` (this file's), or None.

    A job's working dir, as ``ray job submit`` ships it, has no ``.git``: pass the commit in
    ``FINELABEL_GIT_COMMIT`` (runtime env ``env_vars``) and it is used instead.
    """
    if os.environ.get("FINELABEL_GIT_COMMIT"):
        return os.environ["FINELABEL_GIT_COMMIT"]
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def run_tags(manifest_path: str | Path | None = None,
             code_path: str | Path | None = None) -> dict[str, str]:
    """Code version (git commit, when in a checkout; finelabel version) and manifest hash."""
    from finelabel import __version__

    tags = {"finelabel_version": __version__}
    commit = git_commit(code_path)
    if commit:
        tags["git_commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    if manifest_path is not None:
        tags["manifest_sha256"] = sha256_file(manifest_path)
    return tags
