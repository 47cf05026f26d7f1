"""The reward: match policies, row diffs and evaluation. Pure functions over row changes; they
never touch a database, so an agent's episode cannot influence how it is scored.
"""
