output "buckets" {
  description = "Lake area => bucket name."
  value       = module.object_store.bucket_names
}

output "topics" {
  description = "Topics provisioned (empty while create_topics is false)."
  value       = var.create_topics ? module.topics[0].topic_names : []
}

output "service_urls" {
  description = "Public service => URL on the load balancer."
  value       = module.services.urls
}

output "airflow_url" {
  description = "Airflow API server inside the cluster (kubectl port-forward or an ingress)."
  value       = module.workloads.airflow_api_server_service
}

output "kubernetes_cluster" {
  description = "EKS cluster of Spark and Airflow."
  value       = module.spark_runtime.cluster_name
}

output "reporting_db" {
  description = "Where Power BI connects (through a gateway in the VPC) and as whom."
  value       = { host = module.reporting_db.host, port = module.reporting_db.port, database = "marketpulse", user = "powerbi", server_ca = module.reporting_db.server_ca }
}

output "platform_settings" {
  description = "Connection facts for operators beyond the app's settings (Power BI user, server CA, credential kind)."
  value       = local.platform_settings
}

output "app_env" {
  description = "MARKETPULSE_* settings of the application (`marketpulse infra env aws --out .env`)."
  value       = local.app_env
}

output "app_secrets" {
  description = "Secret MARKETPULSE_* settings (also in Secrets Manager, where the services read them)."
  sensitive   = true
  value       = local.app_secrets
}

output "powerbi_password" {
  description = "Password of the read-only powerbi role (`terraform output -raw powerbi_password`)."
  value       = module.passwords.values["powerbi"]
  sensitive   = true
}

