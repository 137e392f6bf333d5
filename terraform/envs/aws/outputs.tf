output "buckets" {
  description = "Lake area => bucket name."
  value       = module.object_store.bucket_names
}

output "topics" {
  description = "Topics provisioned (empty while create_topics is false)."
  value       = var.create_topics ? module.topics[0].topic_names : []
}

output "airflow_url" {
  description = "MWAA web server."
  value       = module.airflow.webserver_url
}

output "spark_application_id" {
  description = "EMR Serverless application of the streaming jobs."
  value       = module.spark_runtime.application_id
}

output "app_env" {
  description = "MARKETPULSE_* settings of the application (`marketpulse infra env aws --out .env`)."
  value       = local.app_env
}

output "app_secrets" {
  description = "Secret settings: none on AWS (IAM roles replace keys); kept so every environment has the same outputs."
  sensitive   = true
  value       = {}
}
