"""Sections of Settings that belong to one area: live market-data providers (`providers`) and the text
collectors with the sentiment job (`text`). They sit below every package, so `config` can nest them without
importing the areas that read them (ingest imported config, and config imported ingest: a cycle)."""
