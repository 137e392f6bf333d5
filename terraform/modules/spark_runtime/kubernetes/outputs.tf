output "namespace" {
  description = "Namespace of the workloads."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}

output "service_account" {
  description = "Service account of the Spark driver/executors and Airflow's pods."
  value       = kubernetes_service_account_v1.this.metadata[0].name
}

output "env_secret" {
  description = "Secret holding every MARKETPULSE_* setting."
  value       = kubernetes_secret_v1.this.metadata[0].name
}

output "spark_master" {
  description = "Master URL for spark-submit from inside the cluster (MARKETPULSE_SPARK__MASTER)."
  value       = "k8s://https://kubernetes.default.svc"
}

output "migration_job" {
  description = "Name of the schema-migration job of this app image (completed when apply returns)."
  value       = kubernetes_job_v1.migrate.metadata[0].name
}

output "airflow_api_server_service" {
  description = "In-cluster address of the Airflow API server (UI and REST API); expose it with an ingress or port-forward."
  value       = module.airflow.api_server_service
}
