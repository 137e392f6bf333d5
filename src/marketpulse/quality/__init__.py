"""Data-quality checks used by Airflow (data_quality DAG) and the CLI; results in Postgres, exported as metrics."""
