"""Kit workloads: stdlib-only scripts that run in a stock image (from a ConfigMap) or as kubesim processes.

Every ``<name>.py`` here (not starting with ``_``) is registered with the sandbox as
the workload ``<name>`` (pod annotation ``kubesim.io/workload: <name>``). Each is
importable too, so clients share its helpers (petkv's ``owner_ordinal``).
"""
