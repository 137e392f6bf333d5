output "webserver_url" {
  description = "Airflow UI (reachable from inside the VPC)."
  value       = aws_mwaa_environment.this.webserver_url
}

output "dags_bucket" {
  description = "Upload airflow/dags/ here under dags/."
  value       = aws_s3_bucket.dags.bucket
}
