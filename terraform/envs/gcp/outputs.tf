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

output "airflow_url" {
  description = "Airflow API server inside the cluster (kubectl port-forward or an ingress)."
  value       = module.airflow.api_server_service
}

output "kubernetes_cluster" {
  description = "GKE cluster of Spark and Airflow."
  value       = module.spark_runtime.cluster_name
}

output "reporting_db" {
  description = "Where Power BI connects (through a gateway in the VPC) and as whom; server_ca is the PEM to trust."
  value       = { host = module.reporting_db.host, port = module.reporting_db.port, database = "marketpulse", user = "powerbi", server_ca = module.reporting_db.server_ca }
}

output "platform_settings" {
  description = "Connection properties the app needs beyond today's Settings (SASL, Cassandra auth, Redis CA): issue 14's app-side settings."
  value       = local.platform_settings
}

output "app_env" {
  description = "MARKETPULSE_* settings of the application (`marketpulse infra env gcp --out .env`)."
  value       = local.app_env
}

output "app_secrets" {
  description = "Secret MARKETPULSE_* settings (also in Secret Manager, where the services read them)."
  sensitive   = true
  value       = local.app_secrets
}

output "powerbi_password" {
  description = "Password of the read-only powerbi role (`terraform output -raw powerbi_password`)."
  value       = module.passwords.values["powerbi"]
  sensitive   = true
}

output "platform_secrets" {
  description = "Credentials the app will read once its SASL and Cassandra auth settings exist (issue 14 app side); not injected yet, because Settings refuses unknown section fields (MARKETPULSE_KAFKA__SASL_*)."
  value = {
    kafka_plain_password   = module.identity.kafka_password
    cassandra_app_password = module.passwords.values["cassandra_app"]
  }
  sensitive = true
}
