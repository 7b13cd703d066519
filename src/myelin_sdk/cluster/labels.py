"""The labels and annotations the cluster commands look for, without importing the compiler.

They are the compiler's own (``myelin_sdk.compiler.meta``, ``myelin_sdk.compiler.sensors``; a test checks
that they are equal): the read-only commands (``status``, ``list``, ``get``, ``endpoint``, ``logs``,
``delete``) import this module, not the compiler and hera behind it, so that they start at once.
"""

from __future__ import annotations

PART_OF = "app.kubernetes.io/part-of"
AXON_LABEL = "myelin.io/axon"
TASK_LABEL = "myelin.io/task"
SENSOR_LABEL = "myelin.io/sensor"
#: Annotation on a start Workflow: ``myelin submit`` creates it on first install only, not on re-apply.
CREATE_ONCE = "myelin.io/create-once"
#: The field manager of every server-side apply that myelin sends (``metadata.managedFields[].manager``).
FIELD_MANAGER = "myelin"
