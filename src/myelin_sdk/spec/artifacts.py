"""Artifacts: where a task's code comes from (a git repository, an S3 object, or a local folder).

>>> src = Artifact("rec-source", path="/src",
...                git=Git(repo="https://github.com/myelinio/myelin-examples.git", revision="master"))
>>> src.kind
'git'

On a cluster an artifact becomes an Argo input artifact of the image-build step, placed at ``path``;
``myelin run`` clones or copies it into the run's work dir instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ._base import Registered, SpecModel, exactly_one


class SecretKeySelector(SpecModel):
    """A key of a Kubernetes Secret (``{name: github-creds, key: ssh-private-key}``)."""

    name: str = Field(min_length=1)
    key: str = Field(min_length=1)


class Git(SpecModel):
    """A git repository; private ones name a Secret holding an SSH key or a username and password."""

    repo: str = Field(min_length=1)
    revision: str | None = None
    depth: int | None = Field(default=None, ge=1)
    ssh_private_key_secret: SecretKeySelector | None = None
    username_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None


class S3(SpecModel):
    """An object or prefix in an S3-compatible bucket."""

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    endpoint: str | None = None
    region: str | None = None
    insecure: bool | None = None
    access_key_secret: SecretKeySelector | None = None
    secret_key_secret: SecretKeySelector | None = None


class Local(SpecModel):
    """A folder on the machine that runs ``myelin run`` (local runs only; a cluster cannot see it)."""

    path: str = Field(min_length=1)


class Artifact(Registered):
    """A named code source, mounted at ``path`` in the build steps that use it."""

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(name, **data)

    name: str = Field(min_length=1)
    path: str = "/src"
    git: Git | None = None
    s3: S3 | None = None
    local: Local | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Artifact:
        exactly_one(self, ("git", "s3", "local"), "an artifact")
        return self

    @property
    def kind(self) -> str:
        """``git``, ``s3`` or ``local``."""
        return "git" if self.git else "s3" if self.s3 else "local"
