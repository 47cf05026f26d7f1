"""One call on one connection: argument checks, the authorizer, the key log, invariants, the
change log and undo, and the call itself. Sessions (``engine.session``) and the builders'
oracles and task sampler use it through ``engine.runtime.call``'s public functions.
"""
