output "containers" {
  description = "Lake area => ADLS Gen2 container."
  value       = module.object_store.container_names
}

output "topics" {
  description = "Event hubs (topics) provisioned."
  value       = module.streaming_bus.topic_names
}

output "service_urls" {
  description = "Container App => FQDN."
  value       = module.services.urls
}

output "airflow_url" {
  description = "Airflow API server inside the cluster (kubectl port-forward or an ingress)."
  value       = module.workloads.airflow_api_server_service
}

output "kubernetes_cluster" {
  description = "AKS cluster of Spark and Airflow."
  value       = module.spark_runtime.cluster_name
}

output "reporting_db" {
  description = "Where Power BI connects (virtual network data gateway in powerbi_subnet_id) and as whom."
  value       = { host = module.reporting_db.host, port = module.reporting_db.port, database = "marketpulse", user = "powerbi", gateway_subnet = module.network.powerbi_subnet_id }
}

output "platform_settings" {
  description = "Connection facts for operators beyond the app's settings (capped topics, Cassandra version, identity, Power BI path)."
  value       = local.platform_settings
}

output "app_env" {
  description = "MARKETPULSE_* settings of the application (`marketpulse infra env azure --out .env`)."
  value       = local.app_env
}

output "app_secrets" {
  description = "Secret MARKETPULSE_* settings (also in Key Vault, where the services read them)."
  sensitive   = true
  value       = local.app_secrets
}

output "powerbi_password" {
  description = "Password of the read-only powerbi role (`terraform output -raw powerbi_password`)."
  value       = module.passwords.values["powerbi"]
  sensitive   = true
}

