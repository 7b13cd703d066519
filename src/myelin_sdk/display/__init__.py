"""How SDK objects show themselves in a notebook (``_repr_html_``) and a terminal (text ``repr``).

Kept apart from what they show: the compiler and the local runner import nothing from here, and this package
is imported only when something is displayed::

    bundle = axon.compile()
    bundle                          # a table: kind, name, what each manifest does
    bundle.show("Sensor/ml-rec-deployment-decision-maker")   # its YAML, with syntax colour
    run = axon.run_local(...)
    run.watch(until="deployed")     # the run's live status, refreshed in the cell

:mod:`.bundle_view` describes a compiled bundle, :mod:`.run_view` a local run.
"""
