"""Seeding: Faker value pools, seeded sampling, SQL fills and invariant repair make a world's
rows, byte-identical for the same spec and seed (``seeder.seed_database``).
"""
