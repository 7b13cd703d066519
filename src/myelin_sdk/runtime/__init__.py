"""Runtime helpers that run inside the cluster; kept free of heavy imports.

:mod:`myelin_sdk.runtime.gate` is the metric gate of ``Metric`` conditions.  It uses
only the standard library, so the compiler can inline its source as a script::

    from myelin_sdk.runtime import gate_script_source

    script = gate_script_source()   # run as: python - --prometheus URL --query PROMQL < script
"""

from __future__ import annotations

from importlib import resources

__all__ = ["gate_script", "gate_script_source"]

_MAIN_CALL = 'if __name__ == "__main__":\n    sys.exit(main())\n'


def gate_script_source() -> str:
    """Return the source text of :mod:`myelin_sdk.runtime.gate`, runnable as a standalone script."""
    return resources.files(__name__).joinpath("gate.py").read_text(encoding="utf-8")


def gate_script(argv: list[str]) -> str:
    """The gate's source as a script that runs ``main(argv)`` — for an Argo ``script`` template, which passes
    no arguments. ``argv`` is embedded as a Python string-list literal (data, never evaluated as code)."""
    source = gate_script_source()
    if _MAIN_CALL not in source:  # pragma: no cover - guards an edit of gate.py
        raise RuntimeError("gate.py must end with the standard __main__ block")
    if "{{" in source:  # pragma: no cover - Argo would try to substitute it
        raise RuntimeError("gate.py must not contain '{{' (Argo templating)")
    return source.replace(_MAIN_CALL, f"sys.exit(main({[str(a) for a in argv]!r}))\n")
