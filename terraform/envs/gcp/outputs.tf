output "buckets" {
  description = "Lake area => bucket name."
  value       = module.object_store.bucket_names
}

output "topics" {
  description = "Topics provisioned."
  value       = module.streaming_bus.topic_names
}

output "service_urls" {
  description = "Cloud Run service => URL."
  value       = module.services.urls
}

output "airflow_uri" {
  description = "Cloud Composer's Airflow UI."
  value       = module.airflow.airflow_uri
}

output "app_env" {
  description = "MARKETPULSE_* settings of the application (`marketpulse infra env gcp --out .env`)."
  value       = local.app_env
}

output "app_secrets" {
  description = "Secret MARKETPULSE_* settings."
  sensitive   = true
  value = {
    MARKETPULSE_S3__SECRET_KEY = module.identity.hmac_secret
  }
}
