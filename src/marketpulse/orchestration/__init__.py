"""Airflow in the local stack: its venv, configuration, processes and connections."""
