"""The ``myelin`` command, and ``Axon.main()`` behind ``python pipeline.py``.

Only the standard library is imported at start-up; each command imports what it needs, so ``myelin --help``
answers at once. User mistakes print ``file:line: field.path: message`` and exit with status 2::

    from myelin_sdk.cli import main
    main(["lint", "examples/recommender_demo/recommender-demo.yaml"])  # 0: no errors

Modules: :mod:`.main` (the parser and the entry point), one module per command group (:mod:`.build`:
compile and lint; :mod:`.submit`; :mod:`.inspect`: list, get, status, endpoint; :mod:`.ops`: delete and
logs; :mod:`.meta`: version and completion), :mod:`.options` (flags shared by several commands),
:mod:`.output` (``-o table|json|yaml`` and diagnostics) and :mod:`.pipeline` (``python pipeline.py``).
"""

from __future__ import annotations

from .build import emit
from .main import build_parser, main
from .output import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from .pipeline import pipeline_main

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "emit", "main", "pipeline_main"]
