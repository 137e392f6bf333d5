output "airflow_uri" {
  description = "Airflow web UI."
  value       = google_composer_environment.this.config[0].airflow_uri
}

output "dag_gcs_prefix" {
  description = "Upload airflow/dags/ here."
  value       = google_composer_environment.this.config[0].dag_gcs_prefix
}
