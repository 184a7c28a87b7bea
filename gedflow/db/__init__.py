"""The database every part of gedflow shares: the engine and the migrations (`engine`), the
tables (`tables`) and the bulk helpers (`bulk`). SQLite by default, PostgreSQL when configured.
"""
