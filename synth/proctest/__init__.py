"""Procedural testing: every tool is proven on generated valid, invalid and boundary cases
(``casegen``/``casesearch``/``casestate``), checked by oracles, and fuzzed statefully; a tool
that fails is quarantined. The entry point is ``run.run_proctest``.
"""
